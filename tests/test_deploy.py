"""Static checks of deploy/: no Docker engine or cluster runs here, so the files are validated as files.

docker compose resolves the compose file against the example environment,
hadolint lints the Dockerfile, and every Kubernetes manifest is checked
against the API schemas, then for the rules this project keeps (probes,
resources, one image, secrets only by reference).
"""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from apps.access.plan import PRINCIPALS, Principal
from apps.access.services import access_password_variables
from apps.messaging.topology import WORK_QUEUES
from tests.cluster.harness import CLUSTER_SETTINGS
from tests.stack import URL_VARIABLES, procfile

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
PROCESSES = tuple(procfile())
# provision and grant run provision_access before and after migrate (the table-level grants need the tables).
APP_SERVICES = (*PROCESSES, "migrate", "provision", "grant")
# Servers the deployment runs beside the app's own image: Redis holds the web's throttle counters.
SERVERS = {"redis"}
# Variables the README documents that a deployment never sets: fault injection for tests, the name
# each Procfile line gives itself, and the admin user that `make run` ensures.
# METRICS_PORT is set per Procfile line (one per container), never for the whole stack.
NOT_DEPLOYED = {
    "CRASH_POINTS",
    "SERVICE_NAME",
    "DJANGO_SUPERUSER_USERNAME",
    "DJANGO_SUPERUSER_PASSWORD",
    "METRICS_PORT",
}
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|_URL$")
# Not variables of .env: compose writes each process's own URLs from its own passwords.
BUILT_PER_SERVICE = {*URL_VARIABLES.values(), "CELERY_BROKER_URL", "MESSAGING_BROKER_URL"}
# Every variable that holds some process's credential or key.
CREDENTIALS = re.compile(r"^(DB_PASSWORD_|BROKER_PASSWORD_|SIGNING_KEYS_)|^DJANGO_SECRET_KEY$")


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing: it comes with requirements/dev.txt (make venv)"
    return str(path)


@pytest.fixture(scope="module")
def compose() -> dict:
    result = subprocess.run(
        [
            tool("docker-compose"),
            "--file",
            "docker-compose.yml",
            "--env-file",
            ".env.example",
            *("config", "--format", "json"),
        ],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def env_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def readme_variables() -> set[str]:
    table = re.findall(r"^\| (`[A-Z_]+`(?: / `_?[A-Z_]+`)?) \|", (ROOT / "README.md").read_text(), re.MULTILINE)
    names = set()
    for cell in table:
        first, *rest = re.findall(r"`(_?[A-Z_]+)`", cell)
        names.add(first)
        names.update(first.rsplit("_", 1)[0] + other if other.startswith("_") else other for other in rest)
    return names


# --- docker compose ------------------------------------------------------------------


def test_compose_file_resolves_with_the_example_environment(compose):
    assert set(compose["services"]) == {
        "mysql",
        "rabbitmq",
        "redis",
        "migrate",
        "provision",
        "grant",
        *PROCESSES,
        "prometheus",
        "grafana",
    }


def test_every_process_runs_its_procfile_line_from_one_image(compose):
    services = compose["services"]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1, images
    for name in PROCESSES:
        assert services[name]["command"] == [name]
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate_all"]
    for name in ("provision", "grant"):
        assert services[name]["command"][:3] == ["python", "manage.py", "provision_access"], name
    assert services["mysql"]["image"].startswith("mysql:8")
    assert re.fullmatch(r"rabbitmq:3[.\d]*-management", services["rabbitmq"]["image"])


def test_servers_come_up_healthy_then_provisioning_and_migrations_then_the_processes(compose):
    services = compose["services"]
    completed = {"condition": "service_completed_successfully", "required": True}
    for name in ("mysql", "rabbitmq", "redis", *PROCESSES, "prometheus", "grafana"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert services["provision"]["depends_on"] == {"mysql": {"condition": "service_healthy", "required": True}}
    # The broker loads the definitions provision wrote, at boot.
    assert services["rabbitmq"]["depends_on"] == {"provision": completed}
    assert services["migrate"]["depends_on"] == {"provision": completed}
    assert services["grant"]["depends_on"] == {"migrate": completed}
    for name in set(PROCESSES) - {"flower"}:
        assert services[name]["depends_on"]["grant"] == completed, name
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    for name in ("provision", "migrate", "grant"):
        assert services[name]["restart"] == "no", name


def test_prometheus_and_grafana_are_provisioned_from_deploy_observability(compose):
    def mounts(service: str) -> dict[str, str]:
        return {
            str(Path(volume["source"]).relative_to(DEPLOY)): volume["target"]
            for volume in compose["services"][service]["volumes"]
            if volume["type"] == "bind"
        }

    assert mounts("prometheus") == {
        "observability/prometheus.yml": "/etc/prometheus/prometheus.yml",
        "observability/alerts.yml": "/etc/prometheus/alerts.yml",
    }
    assert mounts("grafana") == {
        "observability/grafana/provisioning": "/etc/grafana/provisioning",
        "observability/grafana/dashboards": "/var/lib/grafana/dashboards",
    }
    assert "--config.file=/etc/prometheus/prometheus.yml" in compose["services"]["prometheus"]["command"]


def test_the_example_environment_lists_every_variable():
    example = env_example()
    compose_text = (DEPLOY / "docker-compose.yml").read_text()
    # $${...} is left for the container's shell, not read from the environment file.
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", compose_text))

    assert referenced - set(example) == set(), "compose reads variables .env.example does not list"
    documented = readme_variables() - NOT_DEPLOYED - BUILT_PER_SERVICE
    assert documented - set(example) == set(), "README documents variables it does not list"
    assert set(example) - referenced == set(), ".env.example lists variables compose never reads"


def test_every_app_process_counts_its_throttles_in_the_compose_redis(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0", name
    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    assert "--save" in redis["command"]
    assert "ports" not in redis, "Redis is reached inside the compose network only"


def test_no_deployment_sets_the_removed_login_switch(compose):
    for name in APP_SERVICES:
        assert "API_REQUIRE_AUTHENTICATION" not in compose["services"][name]["environment"], name
    assert "API_REQUIRE_AUTHENTICATION" not in of_kind("ConfigMap")["saga-orders-config"]["data"]


def test_every_port_compose_publishes_binds_the_loopback_address_only(compose):
    published = {
        name: [(port["host_ip"], port["target"]) for port in service.get("ports", [])]
        for name, service in compose["services"].items()
    }

    assert {name for name, ports in published.items() if ports} == {
        "web",
        "rabbitmq",
        "flower",
        "prometheus",
        "grafana",
    }
    for name, ports in published.items():
        assert all(host_ip == "127.0.0.1" for host_ip, _ in ports), f"{name} publishes {ports}"
    assert published["web"] == [("127.0.0.1", 8000)], "only the web's public port, never its metrics port"


def test_compose_holds_no_secret_and_demands_every_one(compose):
    compose_text = (DEPLOY / "docker-compose.yml").read_text()
    credentials = [name for name in env_example() if CREDENTIALS.search(name)]
    assert len(credentials) == 1 + 4 + sum(len(access_password_variables(p)) for p in PRINCIPALS.values())
    for name in ("MYSQL_ROOT_PASSWORD", *credentials):
        assert re.search(rf"\$\{{{name}:\?", compose_text), f"{name} must be required, not defaulted"
    assert "change-me" not in compose_text


def test_the_database_init_script_creates_the_schemas_the_urls_name_and_no_user(compose):
    script = (DEPLOY / "mysql" / "init" / "01-app-databases.sh").read_text()
    created = set(re.findall(r"CREATE DATABASE IF NOT EXISTS (\w+)", script))
    migrated = compose["services"]["migrate"]["environment"]
    named = {migrated[variable].rsplit("/", 1)[1] for variable in URL_VARIABLES.values()}

    assert created == named == {"sagas_default", "sagas_orders", "sagas_inventory", "sagas_payments"}
    assert not re.search(r"GRANT|CREATE USER", script), "users and grants are provision_access's"
    assert "MYSQL_USER" not in compose["services"]["mysql"]["environment"]


def expected_secrets(principal: Principal) -> set[str]:
    """The variables a process's environment holds secret: its URLs, its signing keys, the web's key and Redis."""
    names = {URL_VARIABLES[alias] for alias in principal.databases} | set(principal.signing_keys)
    if principal.broker is not None:
        names |= {"CELERY_BROKER_URL", "MESSAGING_BROKER_URL"}
    if principal.secret_key:
        names.add("DJANGO_SECRET_KEY")
    return names


def owned_only(principal: Principal, values: dict[str, str]) -> list[str]:
    """Values naming another principal's user or password variable (an empty list when none does)."""
    own = set(access_password_variables(principal).values())
    wrong = []
    for name, value in values.items():
        passwords = set(re.findall(r"\$\{?((?:DB|BROKER)_PASSWORD_[A-Z_]+)", value)) - own
        users = {user for user in re.findall(r"//(sagas-[\w-]+):", value) if user != f"sagas-{principal.name}"}
        if passwords or users:
            wrong.append(f"{name}: {sorted(passwords | users)}")
    return wrong


def test_each_compose_process_gets_only_its_own_users_and_keys(compose):
    raw = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    for name in (*PROCESSES, "migrate"):
        principal = PRINCIPALS[name]
        environment = compose["services"][name]["environment"]
        secret = {variable for variable in environment if CREDENTIALS.search(variable) or variable in BUILT_PER_SERVICE}

        assert secret == expected_secrets(principal), name
        assert owned_only(principal, {key: str(value) for key, value in raw[name]["environment"].items()}) == [], name
    assert compose["services"]["web"]["environment"]["DATABASE_URL"].startswith("mysql://sagas-web:")


# --- the image -------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint():
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "info", "Dockerfile"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_multi_stage_slim_non_root_with_static_files_collected():
    instructions = [
        line.split(None, 1)
        for line in (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    users = [args for keyword, args in instructions if keyword == "USER"]
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    copies = [args.split() for keyword, args in instructions if keyword == "COPY"]

    assert len(froms) >= 2
    assert froms[-1].endswith("AS runtime")
    assert "slim" in (DEPLOY / "Dockerfile").read_text().split("ARG PYTHON_IMAGE=", 1)[1].splitlines()[0]
    assert users[-1].split(":")[0] not in ("root", "0")
    assert "collectstatic" in runs
    for args in copies:
        if not args[0].startswith("--from"):
            for source in args[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"


def test_the_entrypoint_runs_a_procfile_line_by_name_or_a_command_as_given(tmp_path):
    (tmp_path / "Procfile").write_text("hello: echo hello ${WHO:-world}\nother: echo other\n")
    entrypoint = str(DEPLOY / "docker-entrypoint.sh")
    env = {"PROCFILE": str(tmp_path / "Procfile"), "PATH": "/usr/bin:/bin", "WHO": "saga"}

    def run(*args):
        return subprocess.run([entrypoint, *args], env=env, capture_output=True, text=True, timeout=10, check=True)

    assert run("hello").stdout == "hello saga\n"
    assert run("echo", "as", "given").stdout == "as given\n"


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k7#Qw9!zR2@vX5$mT8^pL3&nB6*hJ1(dF4)sG0-yC_eU+aZ=oI",
}


def start_in_production(tmp_path, **env) -> subprocess.CompletedProcess:
    """The entrypoint under production settings, running a Procfile line that says it started."""
    (tmp_path / "Procfile").write_text("hello: echo started\n")
    return subprocess.run(
        [str(DEPLOY / "docker-entrypoint.sh"), "hello"],
        cwd=ROOT,
        env={"PROCFILE": str(tmp_path / "Procfile"), "PATH": f"{BIN}:/usr/bin:/bin", **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_in_production_the_entrypoint_runs_the_deploy_checks_and_starts_when_they_pass(tmp_path):
    result = start_in_production(tmp_path)

    assert (result.returncode, result.stdout) == (0, "started\n"), result.stderr


@pytest.mark.parametrize(
    ("env", "reported"),
    [
        pytest.param({"DJANGO_HSTS_SECONDS": "0"}, "security.W004", id="hsts-off"),
        pytest.param({"DJANGO_SSL_REDIRECT": "false"}, "security.W008", id="redirect-off"),
        pytest.param({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set", id="no-secret"),
    ],
)
def test_in_production_the_entrypoint_refuses_to_start_on_a_deploy_check_warning(tmp_path, env, reported):
    result = start_in_production(tmp_path, **env)

    assert result.returncode != 0
    assert "started" not in result.stdout
    assert reported in result.stderr


def test_deploy_check_fail_level_error_starts_despite_a_warning_and_prints_it(tmp_path):
    result = start_in_production(tmp_path, DJANGO_SSL_REDIRECT="false", DEPLOY_CHECK_FAIL_LEVEL="ERROR")

    assert (result.returncode, result.stdout) == (0, "started\n"), result.stderr
    assert "security.W008" in result.stderr


def test_the_broker_liveness_probe_sees_an_established_connection():
    probe = str(DEPLOY / "probes" / "broker-connected.sh")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        idle = subprocess.run([probe], env={"BROKER_PORT": str(port)}, timeout=10, check=False)
        with socket.create_connection(("127.0.0.1", port)), server.accept()[0]:
            connected = subprocess.run([probe], env={"BROKER_PORT": str(port)}, timeout=10, check=False)

    assert (idle.returncode, connected.returncode) == (1, 0)


# --- Kubernetes ------------------------------------------------------------------------


def manifests(directory: Path = K8S) -> list[tuple[str, dict]]:
    documents = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [(path.name, document) for document in yaml.safe_load_all(path.read_text()) if document]
    return documents


def of_kind(kind: str) -> dict[str, dict]:
    return {document["metadata"]["name"]: document for _, document in manifests() if document["kind"] == kind}


def containers(document: dict) -> list[dict]:
    return document["spec"]["template"]["spec"]["containers"]


def test_every_manifest_is_valid_against_the_kubernetes_schemas():
    for name, document in manifests():
        try:
            kubernetes_validate.validate(document, "1.30", strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {document['kind']} {document['metadata']['name']}: {error}")


def test_the_kustomization_applies_every_manifest_but_the_migration_job():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "migrate-job.yaml"}

    assert set(kustomization["resources"]) == files


def app_deployments() -> dict[str, dict]:
    return {name: document for name, document in of_kind("Deployment").items() if name not in SERVERS}


def test_a_deployment_per_process_with_web_and_consumers_scaled_out_and_one_beat():
    deployments = app_deployments()

    assert set(of_kind("Deployment")) == set(PROCESSES) | SERVERS
    assert set(deployments) == set(PROCESSES)
    for name, deployment in deployments.items():
        assert containers(deployment)[0]["args"] == [name]
    for name in ("web", "relay", "orders-consumer", "inventory-consumer", "payments-consumer"):
        assert deployments[name]["spec"]["replicas"] >= 2, name
    assert deployments["beat"]["spec"]["replicas"] == 1
    assert deployments["beat"]["spec"]["strategy"]["type"] == "Recreate"
    assert of_kind("HorizontalPodAutoscaler")["web"]["spec"]["scaleTargetRef"]["name"] == "web"


def test_every_deployment_has_resources_and_probes_and_web_probes_ready_and_health():
    services = of_kind("Service")
    served = {service["spec"]["selector"]["app.kubernetes.io/component"] for service in services.values()}
    for name, deployment in of_kind("Deployment").items():
        for container in containers(deployment):
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert "livenessProbe" in container, name
            if name in served:
                assert "readinessProbe" in container, f"{name} takes traffic but has no readiness probe"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    [web] = containers(of_kind("Deployment")["web"])
    assert web["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"


def procfile_metrics_ports() -> dict[str, int]:
    return {
        name: int(match.group(1))
        for name, line in procfile().items()
        if (match := re.search(r"METRICS_PORT=\$\{METRICS_PORT:-(\d+)\}", line))
    }


def test_prometheus_scrapes_each_pod_on_its_procfile_metrics_port_which_no_service_exposes():
    ports = procfile_metrics_ports()
    deployments = app_deployments()

    assert set(ports) == set(PROCESSES) - {"flower"}
    for name, port in ports.items():
        template = deployments[name]["spec"]["template"]
        [container] = containers(deployments[name])
        assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true", name
        assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port), name
        assert {"name": "metrics", "containerPort": port} in container["ports"], name
    for service in of_kind("Service").values():
        assert "metrics" not in {entry.get("targetPort") for entry in service["spec"]["ports"]}
        assert not set(ports.values()) & {entry.get("targetPort") for entry in service["spec"]["ports"]}


def test_the_compose_prometheus_scrapes_each_process_on_its_procfile_metrics_port():
    config = yaml.safe_load((DEPLOY / "observability" / "prometheus.yml").read_text())
    targets = {
        target for job in config["scrape_configs"] for static in job["static_configs"] for target in static["targets"]
    }

    assert targets == {f"{name}:{port}" for name, port in procfile_metrics_ports().items()}
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in config["scrape_configs"])


def test_one_image_for_every_deployment_and_the_migration_job():
    workloads = [*app_deployments().values(), *of_kind("Job").values()]
    images = {container["image"] for workload in workloads for container in containers(workload)}

    assert len(images) == 1, images
    assert not images.pop().endswith(":latest")
    [job] = of_kind("Job").values()
    assert containers(job)[0]["command"] == ["python", "manage.py", "migrate_all"]


def test_secrets_only_by_reference_and_settings_from_the_config_map():
    assert of_kind("Secret") == {}
    config_maps = of_kind("ConfigMap")
    for _, document in manifests():
        if document["kind"] not in ("Deployment", "Job") or document["metadata"]["name"] in SERVERS:
            continue
        for container in containers(document):
            for variable in container.get("env", []):
                assert not SECRET_NAMES.search(variable["name"]), f"{variable['name']} set inline"
            references = {next(iter(source)): next(iter(source.values()))["name"] for source in container["envFrom"]}
            component = document["metadata"]["labels"]["app.kubernetes.io/component"]
            assert references == {"configMapRef": "saga-orders-config", "secretRef": f"saga-orders-{component}"}
    assert not [name for name in config_maps["saga-orders-config"]["data"] if SECRET_NAMES.search(name)]


def secret_templates() -> dict[str, dict]:
    """deploy/k8s/secrets/secrets.yaml by component: what each process's Secret holds."""
    documents = [document for _, document in manifests(K8S / "secrets")]
    return {document["metadata"]["labels"]["app.kubernetes.io/component"]: document for document in documents}


def test_a_secret_per_deployment_and_the_job_each_with_only_its_own_credentials():
    templates = secret_templates()
    workloads = {**app_deployments(), **{"migrate": of_kind("Job")["saga-orders-migrate"]}}

    assert set(templates) == set(workloads)
    for component, secret in templates.items():
        kubernetes_validate.validate(secret, "1.30", strict=True)
        principal = PRINCIPALS[component]
        assert secret["metadata"]["name"] == f"saga-orders-{component}"
        assert set(secret["stringData"]) - {"REDIS_URL"} == expected_secrets(principal), component
        assert owned_only(principal, secret["stringData"]) == [], component
        variables = {name for value in secret["stringData"].values() for name in re.findall(r"\$\{(\w+)\}", value)}
        assert variables <= set(access_password_variables(principal).values()) | set(principal.signing_keys) | {
            "DJANGO_SECRET_KEY"
        }, component
    assert [name for name, secret in templates.items() if "DJANGO_SECRET_KEY" in secret["stringData"]] == ["web"]
    assert not {key for key in templates["beat"]["stringData"] if key.startswith("SIGNING_KEYS_")}
    assert not {key for key in templates["flower"]["stringData"] if key.startswith("SIGNING_KEYS_")}


def test_redis_runs_in_the_cluster_and_the_web_secret_names_its_url():
    [redis] = containers(of_kind("Deployment")["redis"])
    service = of_kind("Service")["redis"]

    assert redis["image"].startswith("redis:7")
    assert not redis["image"].endswith(":latest")
    assert "--save" in redis["args"]
    assert service["spec"]["ports"][0]["port"] == 6379
    assert secret_templates()["web"]["stringData"]["REDIS_URL"] == "redis://redis:6379/0"
    assert of_kind("ConfigMap")["saga-orders-config"]["data"]["NUM_PROXIES"] == "1"


def test_the_keda_example_scales_each_consumer_on_its_own_queue():
    scaled = {
        document["spec"]["scaleTargetRef"]["name"]: document["spec"]["triggers"][0]["metadata"]["queueName"]
        for _, document in manifests(K8S / "autoscaling")
        if document["kind"] == "ScaledObject"
    }
    queues = {f"{app}-consumer": config["queue"] for app, config in _consumers().items()}

    assert scaled == queues
    assert set(scaled.values()) <= set(WORK_QUEUES)


def _consumers() -> dict:
    from django.conf import settings

    return settings.MESSAGING_CONSUMERS


# --- the cluster settings ------------------------------------------------------------------


def test_deployments_use_the_cluster_settings_make_test_cluster_proves():
    from kombu import Connection

    web = secret_templates()["web"]["stringData"]
    broker_url = web["CELERY_BROKER_URL"]
    databases = {name: re.match(r"mysql://[^@]+@([^:/]+):", web[name]).group(1) for name in URL_VARIABLES.values()}
    example_text = (DEPLOY / ".env.example").read_text()
    [example_brokers] = re.findall(r"^# (amqp://\S+;\S+)$", example_text, re.MULTILINE)

    # Every broker node in one ;-separated URL (kombu's failover list), as the cluster runs use.
    for url in (broker_url, example_brokers):
        assert len(Connection(url).alt) == 3, url
    # Every database through the Galera proxy, never a node.
    assert databases == dict.fromkeys(
        ("DATABASE_URL", "ORDERS_DATABASE_URL", "INVENTORY_DATABASE_URL", "PAYMENTS_DATABASE_URL"), "galera-proxy"
    )
    assert "galera-proxy:3306" in example_text
    config = of_kind("ConfigMap")["saga-orders-config"]["data"]
    example = env_example()
    for name, value in CLUSTER_SETTINGS.items():
        assert config[name] == example[name] == value, name


def test_every_process_knows_its_own_name_so_its_probes_need_no_web_secret(compose):
    # A probe run beside a process (the relay's celery inspect ping) loads the settings with the container's
    # environment: without SERVICE_NAME it would pass for the web and want DJANGO_SECRET_KEY.
    for name in (*PROCESSES, "migrate"):
        assert compose["services"][name]["environment"]["SERVICE_NAME"] == name, name
    for workload in [*app_deployments().values(), *of_kind("Job").values()]:
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        [container] = containers(workload)
        assert {"name": "SERVICE_NAME", "value": component} in container["env"], component
