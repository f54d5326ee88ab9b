"""The model of a ComfyUI server: plain Python, no HTTP. Routes call into it."""
