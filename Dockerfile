# Airflow 3.3.2 with airflow-provider-tiktok installed: the hook and operators, the accounts page plugin
# (loaded through the package's airflow.plugins entry point) and the `tiktok-emulator` command.
# Built by docker-compose.yaml; see docs/runbook.md.
FROM apache/airflow:3.3.2

# Only the files the wheel needs (.dockerignore keeps everything else, .env included, out of the context).
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/provider-src/
COPY --chown=airflow:0 airflow_provider_tiktok /opt/airflow/provider-src/airflow_provider_tiktok

# Pinning apache-airflow to the image's own version keeps pip from upgrading or downgrading Airflow
# while it resolves the provider's dependencies (https://airflow.apache.org/docs/docker-stack/build.html).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/airflow/provider-src \
    && rm -rf /opt/airflow/provider-src
