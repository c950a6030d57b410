"""The gateway's HTTP side: WHIP signaling, the device page, its event feed and photo uploads.

`server.HttpFrontend` owns the aiohttp app; it runs inside the gateway when HTTP_PORT is set.
"""
