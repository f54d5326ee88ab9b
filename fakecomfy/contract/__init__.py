"""Checking the fake's answers against its own contract (``openapi/comfyui.yaml`` and
``openapi/ws``): ``spec`` holds the checks, ``middleware`` applies them to a running app when
``FAKECOMFY_SPEC_CHECK=1`` (the test suite sets it)."""
