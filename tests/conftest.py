pytest_plugins = ["cxops.testing"]
