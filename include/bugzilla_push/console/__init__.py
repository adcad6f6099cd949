"""The push console: the Airflow UI page for operators (routes, response models, the page itself).

The plugin in `plugins/bugzilla_push_console.py` mounts the app; everything else lives here.
"""

from __future__ import annotations
