# The bugzilla-push Airflow image: the slim official Airflow 3.3.2 image (Airflow without providers)
# plus exactly what this project runs — its wheel with the runtime extras, installed with
# constraints.txt, the lock resolved for that set. No test or lint tool goes in (those are in
# requirements-dev.txt).
#
# This project's machines have no Docker engine, so CI cannot build this image. It runs the same
# install instead — the wheel, the same extras, the same lock, in a fresh virtualenv, then
# `pip check` and `airflow providers list` (tests/integration/deployment/test_wheel_install.py).

FROM apache/airflow:slim-3.3.2-python3.11 AS wheel
COPY --chown=airflow:root pyproject.toml README.md /build/
COPY --chown=airflow:root include /build/include
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /build/dist /build

FROM apache/airflow:slim-3.3.2-python3.11
COPY --chown=airflow:root constraints.txt /opt/bugzilla-push/constraints.txt
COPY --from=wheel --chown=airflow:root /build/dist/ /opt/bugzilla-push/dist/
RUN pip install --no-cache-dir \
      "$(ls /opt/bugzilla-push/dist/bugzilla_push-*.whl)[pulse,elasticsearch,webhook,mysql,airflow,celery]" \
      -c /opt/bugzilla-push/constraints.txt \
 && pip check

COPY --chown=airflow:root airflow.cfg /opt/airflow/airflow.cfg
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
