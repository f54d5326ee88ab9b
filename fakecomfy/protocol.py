"""Every wire string a client can see, byte-exact with ComfyUI 0.8.0 (aiohttp 3.14).

Handlers import these; they never spell a protocol string inline.
"""
from __future__ import annotations

import enum
from typing import Final


class WireEnum(str, enum.Enum):
    """An enum whose members are the wire strings themselves (``str()`` gives the value)."""

    def __str__(self) -> str:
        return str(self.value)

# --- HTTP text bodies -------------------------------------------------------------------------
TEXT_500: Final = "500 Internal Server Error\n\nServer got itself in trouble"
TEXT_405: Final = "405: Method Not Allowed"
TEXT_401: Final = "401: Unauthorized"
TEXT_413: Final = "Maximum request body size {limit} exceeded."

# --- media types ------------------------------------------------------------------------------
JSON_MEDIA: Final = "application/json; charset=utf-8"
TEXT_MEDIA: Final = "text/plain; charset=utf-8"
OCTET_MEDIA: Final = "application/octet-stream"
# aiohttp's FileResponse types compressed files by their suffix (not as an encoding).
COMPRESSED_FILE_MEDIA: Final = {".gz": "application/gzip", ".br": "application/x-brotli",
                                ".bz2": "application/x-bzip2", ".Z": "application/x-compress",
                                ".xz": "application/x-xz"}

# --- headers ----------------------------------------------------------------------------------
HEADER_COMFY_USER: Final = "comfy-user"
HEADER_CONTENT_TYPE: Final = "Content-Type"
HEADER_LAST_MODIFIED: Final = "Last-Modified"
HEADER_ETAG: Final = "ETag"
# aiohttp's FileResponse ETag: modification time in ns and size, in hex.
FILE_ETAG: Final = '"{mtime_ns:x}-{size:x}"'
CORS_ALLOW_METHODS: Final = "POST, GET, DELETE, PUT, OPTIONS, PATCH"
CORS_ALLOW_HEADERS: Final = "Content-Type, Authorization"
HEADER_CORS_ALLOW_ORIGIN: Final = "Access-Control-Allow-Origin"
HEADER_CORS_ALLOW_METHODS: Final = "Access-Control-Allow-Methods"
HEADER_CORS_ALLOW_HEADERS: Final = "Access-Control-Allow-Headers"
HEADER_CORS_ALLOW_CREDENTIALS: Final = "Access-Control-Allow-Credentials"
HEADER_CACHE_CONTROL: Final = "Cache-Control"
NO_CACHE: Final = "no-cache"
HEADER_ALLOW: Final = "Allow"
HEADER_CONNECTION: Final = "Connection"
CONNECTION_CLOSE: Final = "close"
HTML_MEDIA: Final = "text/html"

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
USERS_STORAGE: Final = "server"  # GET /users: where the frontend keeps its users

# --- server identity --------------------------------------------------------------------------
COMFYUI_VERSION: Final = "0.8.0"
REQUIRED_FRONTEND_VERSION: Final = "1.35.9"
TEMPLATES_VERSION: Final = "0.7.67"
# /system_stats' pytorch_version where torch is not installed: clients parse it as a torch version.
TORCH_VERSION: Final = "2.9.1+cpu"

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

# --- WebSocket events ------------------------------------------------------------------------
EV_STATUS: Final = "status"
EV_FEATURE_FLAGS: Final = "feature_flags"
EV_EXECUTION_START: Final = "execution_start"
EV_EXECUTION_CACHED: Final = "execution_cached"
EV_EXECUTING: Final = "executing"
EV_EXECUTED: Final = "executed"
EV_PROGRESS: Final = "progress"
EV_PROGRESS_STATE: Final = "progress_state"
EV_EXECUTION_SUCCESS: Final = "execution_success"
EV_EXECUTION_ERROR: Final = "execution_error"
EV_EXECUTION_INTERRUPTED: Final = "execution_interrupted"

# Binary frames: a big-endian uint32 event type, then the payload.
BIN_PREVIEW_IMAGE: Final = 1
BIN_TEXT: Final = 3
BIN_PREVIEW_IMAGE_WITH_METADATA: Final = 4


class PreviewFormat(WireEnum):
    """How a preview image is encoded (PIL's format names)."""

    JPEG = "JPEG"
    PNG = "PNG"


IMAGE_FORMAT_CODES: Final = {PreviewFormat.JPEG: 1, PreviewFormat.PNG: 2}
IMAGE_MEDIA_TYPES: Final = {PreviewFormat.JPEG: "image/jpeg", PreviewFormat.PNG: "image/png"}
FEATURE_PREVIEW_METADATA: Final = "supports_preview_metadata"


class NodeState(WireEnum):
    """A node's ``state`` in ``progress_state``."""

    RUNNING = "running"
    FINISHED = "finished"

# --- queue, history and jobs ------------------------------------------------------------------
class HistoryStatus(WireEnum):
    """A history entry's ``status.status_str``."""

    SUCCESS = "success"
    ERROR = "error"


JOB_PENDING: Final = "pending"
JOB_IN_PROGRESS: Final = "in_progress"
JOB_COMPLETED: Final = "completed"
JOB_FAILED: Final = "failed"
ERR_JOBS_INVALID_STATUS: Final = "Invalid status value(s): {invalid}. Valid values: {valid}"
ERR_JOBS_SORT_BY: Final = "sort_by must be 'created_at' or 'execution_duration'"
ERR_JOBS_SORT_ORDER: Final = "sort_order must be 'asc' or 'desc'"
ERR_JOBS_LIMIT_NOT_POSITIVE: Final = "limit must be a positive integer"
ERR_JOBS_LIMIT_NOT_INT: Final = "limit must be an integer"
ERR_JOBS_OFFSET_NOT_INT: Final = "offset must be an integer"
ERR_JOB_NOT_FOUND: Final = "Job not found"

# --- POST /prompt and prompt validation -------------------------------------------------------
# extra_data keys moved out of the queued item (ComfyUI's order).
SENSITIVE_EXTRA_DATA_KEYS: Final = ("auth_token_comfy_org", "api_key_comfy_org")
ERR_NO_PROMPT: Final = "no_prompt"
MSG_NO_PROMPT: Final = "No prompt provided"
ERR_INVALID_PROMPT: Final = "invalid_prompt"
MSG_MISSING_CLASS_TYPE: Final = "Cannot execute because a node is missing the class_type property."
MSG_UNKNOWN_CLASS_TYPE: Final = "Cannot execute because node {class_type} does not exist."
DETAILS_NODE_ID: Final = "Node ID '#{node_id}'"
ERR_PROMPT_NO_OUTPUTS: Final = "prompt_no_outputs"
MSG_PROMPT_NO_OUTPUTS: Final = "Prompt has no outputs"
ERR_OUTPUTS_FAILED_VALIDATION: Final = "prompt_outputs_failed_validation"
MSG_OUTPUTS_FAILED_VALIDATION: Final = "Prompt outputs failed validation"
# error.details of a failed prompt: one line per error of the failing outputs
DETAILS_ERROR_LINE: Final = "{message}: {details}"
ERR_REQUIRED_INPUT_MISSING: Final = "required_input_missing"
MSG_REQUIRED_INPUT_MISSING: Final = "Required input is missing"
ERR_BAD_LINKED_INPUT: Final = "bad_linked_input"
MSG_BAD_LINKED_INPUT: Final = "Bad linked input, must be a length-2 list of [node_id, slot_index]"
ERR_RETURN_TYPE_MISMATCH: Final = "return_type_mismatch"
MSG_RETURN_TYPE_MISMATCH: Final = "Return type mismatch between linked nodes"
DETAILS_RETURN_TYPE_MISMATCH: Final = "{input_name}, received_type({received_type}) mismatch input_type({input_type})"
ERR_INVALID_INPUT_TYPE: Final = "invalid_input_type"
MSG_INVALID_INPUT_TYPE: Final = "Failed to convert an input value to a {input_type} value"
DETAILS_INVALID_INPUT_TYPE: Final = "{input_name}, {value}, {exception}"
ERR_VALUE_SMALLER_THAN_MIN: Final = "value_smaller_than_min"
MSG_VALUE_SMALLER_THAN_MIN: Final = "Value {value} smaller than min of {minimum}"
ERR_VALUE_BIGGER_THAN_MAX: Final = "value_bigger_than_max"
MSG_VALUE_BIGGER_THAN_MAX: Final = "Value {value} bigger than max of {maximum}"
ERR_VALUE_NOT_IN_LIST: Final = "value_not_in_list"
MSG_VALUE_NOT_IN_LIST: Final = "Value not in list"
DETAILS_VALUE_NOT_IN_LIST: Final = "{input_name}: '{value}' not in {options}"
DETAILS_LIST_LENGTH: Final = "(list of length {length})"
ERR_CUSTOM_VALIDATION_FAILED: Final = "custom_validation_failed"
MSG_CUSTOM_VALIDATION_FAILED: Final = "Custom validation failed for node"
DETAILS_CUSTOM_VALIDATION: Final = "{input_name} - {reason}"
ERR_EXCEPTION_DURING_VALIDATION: Final = "exception_during_validation"
MSG_EXCEPTION_DURING_VALIDATION: Final = "Exception when validating node"
ERR_EXCEPTION_DURING_INNER_VALIDATION: Final = "exception_during_inner_validation"
MSG_EXCEPTION_DURING_INNER_VALIDATION: Final = "Exception when validating inner node"
# Python's own messages, for the exceptions real ComfyUI lets escape from node validation.
PY_RECURSION_LIMIT: Final = "maximum recursion depth exceeded"
PY_MISSING_ARGUMENTS: Final = "{function}() missing {count} required positional argument{plural}: {names}"
PY_NO_ATTRIBUTE: Final = "'{type_name}' object has no attribute '{attribute}'"
# Reasons returned by the VALIDATE_INPUTS / validate_inputs of core nodes.
REASON_INVALID_FILE: Final = "Invalid {kind} file: {name}"
REASON_CAMERA_CONTROL: Final = "Invalid camera control configs: at least one of the values must be non-zero"
REASON_TRIPO_TASK_TYPE: Final = "original_model_task_id must be MODEL_TASK_ID, RIG_TASK_ID or RETARGET_TASK_ID type"
ERR_ASPECT_RATIO_FORMAT: Final = "Aspect ratio must be 'X:Y' (e.g., 16:9), got '{value}'."
ERR_ASPECT_RATIO_INTEGERS: Final = "Aspect ratio must contain integers separated by ':', got '{value}'."
ERR_ASPECT_RATIO_POSITIVE: Final = "Aspect ratio parts must be positive integers, got {a}:{b}."
ERR_ASPECT_RATIO_BOUND: Final = "Aspect ratio `{ratio:.2g}` must be {op} {bound:.2g}."

# aiohttp's answer to a plain GET of a WebSocket route (no Upgrade header).
TEXT_NO_UPGRADE: Final = 'No WebSocket UPGRADE hdr: {upgrade}\n Can "Upgrade" only to "WebSocket".'

# --- fakecomfy's own control plane (never under /api, not part of ComfyUI's API) ------------
CONTROL_PREFIX: Final = "/_fakecomfy/"
