"""Project-state store: SQLite runs/metrics/artifacts and the workspace layout. No torch, no gradio."""
from .names import NameError_, check_name, slug
from .store import ACTIVE, FINISHED, STATUSES, Artifact, ArtifactExists, Run, Store, StoreError
from .workspace import Workspace

__all__ = ["ACTIVE", "FINISHED", "STATUSES", "Artifact", "ArtifactExists", "NameError_", "Run", "Store",
           "StoreError", "Workspace", "check_name", "slug"]
