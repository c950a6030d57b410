"""Conversation routing: Home Assistant's agent first (through the integration), the LLM after.

`HomeState` keeps what the broker says about the home (integration online, device settings and
statuses), `HaRouter` asks HA with a final transcript over MQTT, and `route_reply` puts the
answer (or the LLM's) on the reply path of one request.
"""
