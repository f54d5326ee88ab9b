"""The input, output and temp stores: import from here.

``store`` (``FileStore``, what routes and nodes call), ``uploads`` (``/upload/image`` and
``/upload/mask``), ``view`` (``/view`` lookups and conversions), ``save_paths`` (SaveImage's
targets and counters), ``locations`` (type directories, annotations, ``FileError``).
"""
from fakecomfy.core.files.locations import FileError, split_annotation
from fakecomfy.core.files.save_paths import SaveOutsideOutputError, SaveTarget
from fakecomfy.core.files.store import FileStore
from fakecomfy.core.files.uploads import FilePart, FormValue, UploadForm, UploadResult
from fakecomfy.core.files.view import ViewQuery, ViewResult

__all__ = [
    "FileError",
    "FilePart",
    "FileStore",
    "FormValue",
    "SaveOutsideOutputError",
    "SaveTarget",
    "UploadForm",
    "UploadResult",
    "ViewQuery",
    "ViewResult",
    "split_annotation",
]
