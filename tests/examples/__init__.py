"""How-to tests: how to test a ComfyUI client with the ``fakecomfy`` fixture (see the README)."""
