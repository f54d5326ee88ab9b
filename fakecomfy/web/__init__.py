"""The wire layer's plumbing: aiohttp-compatible routing, responses, request bodies, security."""
