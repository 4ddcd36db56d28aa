"""WeChat side of salesbot: GeWe client, callback parsing, send pacing and a GeWe simulator."""
