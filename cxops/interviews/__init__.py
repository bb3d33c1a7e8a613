"""Interview recruitment: accepted → booked → completed, to a goal, with incentives.

`recruit` (pure: progress, transitions, incentives, booking links), `screen` (the
answer page's consent and screener), `calendly` (the signed webhook's format),
`service` (the store: sync from answers, mark, pay, export).
"""
