"""The WeChat sandbox: a local stand-in for WeChat's HTTP APIs. Start with server.py."""
