"""bugzilla-push: delivers Bugzilla's push-table change stream, in order, with Apache Airflow."""

from __future__ import annotations

__version__ = "0.1.0"
