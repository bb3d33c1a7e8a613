"""NPS on the CRM record: each person's latest score, category, answer date and open
follow-up task written onto their HubSpot contact (`cxops crm push`, docs/crm.md)."""
