"""The HTTP transports: Streamable HTTP (both protocol generations) and the older HTTP+SSE transport."""
