pytest_plugins = ["cxops.testing.plugin"]
