# The bugzilla-push Airflow image: Airflow 3.3.2 with the project's pinned dependencies and the
# project itself installed, so the scheduler, workers, API server and CLI import it alike.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt constraints.txt /opt/bugzilla-push/
RUN pip install --no-cache-dir -r /opt/bugzilla-push/requirements.txt -c /opt/bugzilla-push/constraints.txt

COPY --chown=airflow:root pyproject.toml README.md /opt/bugzilla-push/
COPY --chown=airflow:root include /opt/bugzilla-push/include
RUN pip install --no-cache-dir --no-deps -e /opt/bugzilla-push

COPY --chown=airflow:root airflow.cfg /opt/airflow/airflow.cfg
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
