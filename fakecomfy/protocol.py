"""Every wire string a client can see, byte-exact with ComfyUI 0.8.0 (aiohttp 3.14).

Handlers import these; they never spell a protocol string inline.
"""
from __future__ import annotations

from typing import Final

# --- HTTP text bodies -------------------------------------------------------------------------
TEXT_500: Final = "500 Internal Server Error\n\nServer got itself in trouble"
TEXT_405: Final = "405: Method Not Allowed"
TEXT_401: Final = "401: Unauthorized"
TEXT_413: Final = "Maximum request body size {limit} exceeded."

# --- media types ------------------------------------------------------------------------------
JSON_MEDIA: Final = "application/json; charset=utf-8"
TEXT_MEDIA: Final = "text/plain; charset=utf-8"
OCTET_MEDIA: Final = "application/octet-stream"

# --- headers ----------------------------------------------------------------------------------
HEADER_COMFY_USER: Final = "comfy-user"
CORS_ALLOW_METHODS: Final = "POST, GET, DELETE, PUT, OPTIONS, PATCH"
CORS_ALLOW_HEADERS: Final = "Content-Type, Authorization"

# --- users, settings and userdata -------------------------------------------------------------
ERR_DUPLICATE_USERNAME: Final = "Duplicate username."
ERR_USERNAME_NOT_PROVIDED: Final = "username not provided"
ERR_SYSTEM_USER_PREFIX: Final = "System User prefix not allowed"
TEXT_INVALID_USER: Final = "Invalid user specified in request"
TEXT_DIR_NOT_PROVIDED: Final = "Directory not provided"
TEXT_DIR_NOT_FOUND: Final = "Directory not found"
TEXT_INVALID_DIRECTORY: Final = "Invalid directory"
TEXT_FILE_EXISTS: Final = "File already exists"
TEXT_PATH_NOT_FOUND: Final = "Requested path not found"
TEXT_INVALID_PATH: Final = "Invalid path requested"
TEXT_NOT_A_DIRECTORY: Final = "Requested path is not a directory"

# --- server identity --------------------------------------------------------------------------
COMFYUI_VERSION: Final = "0.8.0"
REQUIRED_FRONTEND_VERSION: Final = "1.35.9"
TEMPLATES_VERSION: Final = "0.7.67"

# --- uploads and /view ------------------------------------------------------------------------
HEADER_CONTENT_DISPOSITION: Final = "Content-Disposition"
CONTENT_DISPOSITION: Final = 'filename="{filename}"'
PNG_MEDIA: Final = "image/png"
IMAGE_MEDIA: Final = "image/{format}"
ERR_SAVE_OUTSIDE_OUTPUT: Final = (
    "**** ERROR: Saving image outside the output folder is not allowed."
    "\n full_output_folder: {folder}"
    "\n         output_dir: {output_dir}"
    "\n         commonpath: {common}"
)
