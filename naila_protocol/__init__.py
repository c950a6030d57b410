"""Wire contracts shared by the NAILA gateway, AI server and tools: MQTT topics and TCP framing."""
