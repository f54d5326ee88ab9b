"""Checking a server against the contract (``openapi/comfyui.yaml`` and ``openapi/ws``).

``spec`` loads the contract and checks single answers and messages against it; ``middleware``
applies those checks to a running app when ``FAKECOMFY_SPEC_CHECK=1`` (the test suite sets it).
``fakecomfy contract URL`` is ``runner``: it runs the check groups ``reads``, ``files``,
``users``, ``prompt`` (the WebSocket and one prompt), ``queue`` and ``generated`` through the
recording HTTP client of ``client``, and prints the ``report``.
"""
