"""Imitations of workflow and CI job APIs (the second set of built-in profiles), in the style of
``tests/vendors.py``, which registers them: each vendor's documented start answer, status
document, words and status codes at the paths its docs give (under a prefix of its own), with
the traps its profile is written for (a word that looks final and is not, a run that waits for
a person, a reason in another field). Each cites the page or SDK file it follows.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from .serving import LoopbackHTTP, QuietHandler, send_json
from .vendors import _DOT, Job, Step, Vendor, _ok, _word

# -- Airflow ------------------------------------------------------------------------------------
# https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html (DAGRun;
# PATCH .../dagRuns/{dag_run_id} {"state": "failed"})

_AIRFLOW = "/airflow/api/v2/dags/etl/dagRuns"


def _dagrun(job: Job, base: str) -> dict[str, Any]:
    return {"dag_run_id": job.id, "dag_id": "etl", "logical_date": None,
            "queued_at": "2026-01-01T00:00:00Z", "start_date": None, "end_date": None,
            "state": "queued", "run_type": "manual", "conf": {}, "note": None,
            "triggered_by": "rest_api"}


# -- Prefect ------------------------------------------------------------------------------------
# https://docs.prefect.io/v3/api-ref/rest-api/server/flow-runs/read-flow-run;
# PrefectHQ/prefect src/prefect/client/schemas/objects.py (StateType; state names)

_PREFECT_NAMES = {"SCHEDULED": "Scheduled", "PENDING": "Pending", "RUNNING": "Running",
                  "COMPLETED": "Completed", "FAILED": "Failed", "CANCELLED": "Cancelled",
                  "CRASHED": "Crashed", "PAUSED": "Paused", "CANCELLING": "Cancelling"}


def _flow_run(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "name": "smart-otter", "flow_id": "f-1", "deployment_id": "d1",
            "parameters": {}, "state_type": "SCHEDULED", "state_name": "Scheduled",
            "state": {"id": f"s-{job.id}", "type": "SCHEDULED", "name": "Scheduled",
                      "timestamp": "2026-01-01T00:00:00Z", "message": None,
                      "state_details": {"flow_run_id": job.id}},
            "run_count": 0, "expected_start_time": "2026-01-01T00:00:00Z"}


def _prefect_word(word: str, job: Job, base: str) -> dict[str, Any]:
    kind, _, name = word.partition(":")
    name = name or _PREFECT_NAMES[kind]
    return {"state_type": kind, "state_name": name, "state": {"type": kind, "name": name}}


# -- Argo Workflows -----------------------------------------------------------------------------
# argoproj/argo-workflows pkg/apis/workflow/v1alpha1/workflow_types.go (status.phase,
# status.progress "N/M", spec.suspend)

_ARGO = "/argo/api/v1/workflows/argo"


def _workflow(job: Job, base: str) -> dict[str, Any]:
    return {"metadata": {"name": job.id, "namespace": "argo", "uid": f"u-{job.id}",
                         "labels": {"workflows.argoproj.io/completed": "false"}},
            "spec": {"entrypoint": "main", "templates": [{"name": "main"}]}, "status": {}}


def _argo_word(word: str, job: Job, base: str) -> dict[str, Any]:
    progress = {"Pending": "0/4", "Running": "2/4", "Succeeded": "4/4"}.get(word, "2/4")
    return {"status": {"phase": word, "progress": progress,
                       "startedAt": "2026-01-01T00:00:00Z"}}


# -- GitLab, CircleCI, Buildkite ----------------------------------------------------------------
# https://docs.gitlab.com/api/pipelines/;
# https://circleci.com/docs/api/v2/index.html#operation/getWorkflowById;
# https://buildkite.com/docs/apis/rest-api/builds

_GITLAB = "/gitlab/api/v4/projects/1"
_BUILDKITE = "/buildkite/v2/organizations/acme/pipelines/app/builds"


def _pipeline(job: Job, base: str) -> dict[str, Any]:
    return {"id": int(job.id), "iid": int(job.id) - 1000, "project_id": 1, "sha": "a1b2c3",
            "ref": "main", "status": "created", "source": "api",
            "web_url": f"https://gitlab.example.com/acme/app/-/pipelines/{job.id}",
            "detailed_status": {"text": "Created", "label": "created", "group": "created",
                                "tooltip": "created"}}


def _gitlab_word(word: str, job: Job, base: str) -> dict[str, Any]:
    label = "manual action" if word == "manual" else word
    return {"status": word, "detailed_status": {"text": word.title(), "label": label,
                                                "group": word, "tooltip": label}}


def _circle(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "name": "build-and-test", "status": "running",
            "pipeline_id": "p-1", "pipeline_number": 42,
            "project_slug": "gh/acme/app", "created_at": "2026-01-01T00:00:00Z",
            "stopped_at": None, "started_by": "u-1"}


def _build(job: Job, base: str) -> dict[str, Any]:
    return {"id": f"b-{job.id}", "graphql_id": "QnVpbGQt", "number": int(job.id),
            "url": f"{base}{_BUILDKITE}/{job.id}",
            "web_url": f"https://buildkite.com/acme/app/builds/{job.id}",
            "state": "scheduled", "blocked": False, "message": "Deploy", "commit": "HEAD",
            "branch": "main", "jobs": []}


def _buildkite_word(word: str, job: Job, base: str) -> dict[str, Any]:
    return {"state": word, "blocked": word == "blocked"}


# -- Temporal -----------------------------------------------------------------------------------
# temporalio/api temporal/api/workflowservice/v1/service.proto (HTTP rules);
# temporal/api/enums/v1/workflow.proto

_TEMPORAL = "/temporal/api/v1/namespaces/default/workflows"


def _describe(job: Job, base: str) -> dict[str, Any]:
    return {"executionConfig": {"taskQueue": {"name": "orders"}},
            "workflowExecutionInfo": {
                "execution": {"workflowId": job.id, "runId": "run-1"},
                "type": {"name": "OrderWorkflow"}, "startTime": "2026-01-01T00:00:00Z",
                "status": "WORKFLOW_EXECUTION_STATUS_RUNNING", "historyLength": "12",
                "taskQueue": "orders"}}


def _temporal_word(word: str, job: Job, base: str) -> dict[str, Any]:
    status, _, run = word.partition("@")
    return {"workflowExecutionInfo": {"status": f"WORKFLOW_EXECUTION_STATUS_{status}",
                                      "execution": {"runId": f"run-{run or 1}"}}}


# -- Cloud Build, Hugging Face Inference Endpoints ---------------------------------------------
# https://cloud.google.com/build/docs/api/reference/rest/v1/projects.builds;
# huggingface/huggingface_hub src/huggingface_hub/_inference_endpoints.py

_CLOUD_BUILD = "/v1/projects/acme/builds"


def _cloud_build(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "projectId": "acme", "status": "QUEUED",
            "createTime": "2026-01-01T00:00:00Z",
            "steps": [{"name": "gcr.io/cloud-builders/docker"}],
            "logUrl": f"https://console.cloud.google.com/cloud-build/builds/{job.id}",
            "timeout": "600s"}


def _cloud_build_op(job: Job, base: str) -> dict[str, Any]:
    return {"name": f"operations/build/acme/op-{job.id}", "metadata": {
        "@type": "type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata",
        "build": _cloud_build(job, base)}}


def _cloud_build_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "SUCCESS":
        return {"status": word, "results": {"images": [
            {"name": "gcr.io/acme/app", "digest": "sha256:abc"}]}}
    return {"status": word}


def _endpoint(job: Job, base: str) -> dict[str, Any]:
    return {"name": job.id, "type": "protected", "accountId": None,
            "model": {"repository": "gpt2", "framework": "pytorch", "task": "text-generation"},
            "compute": {"accelerator": "cpu", "instanceType": "intel-icl",
                        "scaling": {"minReplica": 0, "maxReplica": 1}},
            "provider": {"vendor": "aws", "region": "us-east-1"},
            "status": {"state": "pending", "message": "Endpoint waiting to be scheduled",
                       "createdAt": "2026-01-01T00:00:00Z", "readyReplica": 0,
                       "targetReplica": 1}}


def _endpoint_word(word: str, job: Job, base: str) -> dict[str, Any]:
    status: dict[str, Any] = {"state": word}
    if word == "paused":
        status["message"] = "Endpoint is paused"
    if word == "running":
        status |= {"readyReplica": 1, "message": "Endpoint is running",
                   "url": f"https://{job.id}.us-east-1.aws.endpoints.huggingface.cloud"}
    return {"status": status}


# -- Jenkins ------------------------------------------------------------------------------------
# https://www.jenkins.io/doc/book/using/remote-access-api/ (201 + Location: the queue item);
# jenkinsci/jenkins core/src/main/java/hudson/model/Queue.java (why, cancelled, executable),
# Run.java and Result.java (building, result)

_JENKINS = "/jenkins"


def _queue_item(job: Job, base: str) -> dict[str, Any]:
    return {"_class": "hudson.model.Queue$WaitingItem", "id": int(job.id),
            "url": f"queue/item/{job.id}/", "why": "Waiting for next available executor",
            "cancelled": False, "executable": None, "inQueueSince": 1767225600000,
            "task": {"_class": "hudson.model.FreeStyleProject", "name": "app",
                     "url": f"{base}{_JENKINS}/job/app/"}}


def _jenkins_build(job: Job, base: str, result: str | None) -> dict[str, Any]:
    return {"_class": "hudson.model.FreeStyleBuild", "number": int(job.id), "id": job.id,
            "url": f"{base}{_JENKINS}/job/app/{job.id}/", "displayName": f"#{job.id}",
            "building": result is None, "result": result, "duration": 0 if result is None
            else 61000, "timestamp": 1767225601000}


def _jenkins_word(word: str, job: Job, base: str) -> dict[str, Any] | Step:
    if word == "queued":
        return {}
    if word == "left":  # out of the queue: the item names its build
        return {"_class": "hudson.model.Queue$LeftItem", "why": None, "executable": {
            "_class": "hudson.model.FreeStyleBuild", "number": int(job.id),
            "url": f"{base}{_JENKINS}/job/app/{job.id}/"}}
    return Step(_jenkins_build(job, base, None if word == "building" else word))


# -- Dagster (GraphQL) --------------------------------------------------------------------------
# dagster-io/dagster python_modules/dagster-graphql/dagster_graphql/client/client_queries.py;
# python_modules/dagster/dagster/_core/storage/dagster_run.py (DagsterRunStatus)


def _dagster(job: Job, base: str) -> dict[str, Any]:
    return {"data": {"runOrError": {"__typename": "Run", "id": job.id, "status": "QUEUED"}}}


def _dagster_word(word: str, job: Job, base: str) -> dict[str, Any]:
    return {"data": {"runOrError": {"status": word}}}


def _dagster_request(raw: bytes) -> tuple[str, str | None]:
    """What a POST /graphql asks: its operation, and the run id in its variables."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return "status", None
    query = str(doc.get("query", "")) if isinstance(doc, dict) else ""
    variables = doc.get("variables") or {} if isinstance(doc, dict) else {}
    ident = variables.get("runId") if isinstance(variables, dict) else None
    if "launchRun" in query:
        return "start", None
    return ("cancel" if "terminateRun" in query else "status"), ident


def _dagster_unknown(ident: str | None) -> Step:
    return Step({"data": {"runOrError": {"__typename": "RunNotFoundError", "runId": ident,
                                         "message": f"Run {ident} could not be found."}}})


VENDORS_OPS = [
    Vendor("airflow-dag-run", "https://airflow.apache.org/docs/apache-airflow/stable/"
           "stable-rest-api-ref.html", _dagrun, _word("state"), ("POST", _AIRFLOW),
           lambda j, b: Step(_dagrun(j, b)), rf"{_AIRFLOW}/{_DOT}",
           cancel=("PATCH", rf"{_AIRFLOW}/{_DOT}"),
           cancel_reply=_ok(lambda j: {**_dagrun(j, ""), "state": "failed"}),
           cancelled="failed"),
    Vendor("prefect-flow-run", "https://docs.prefect.io/v3/api-ref/rest-api/server/flow-runs/"
           "read-flow-run", _flow_run, _prefect_word,
           ("POST", "/prefect/api/deployments/d1/create_flow_run"),
           lambda j, b: Step(_flow_run(j, b), 201), rf"/prefect/api/flow_runs/{_DOT}",
           cancel=("POST", rf"/prefect/api/flow_runs/{_DOT}/set_state"),
           cancel_reply=_ok(lambda j: {"status": "ACCEPT", "details": {}, "state": {
               "type": "CANCELLING", "name": "Cancelling"}}, 201),
           cancelled={"state_type": "CANCELLED", "state": {
               "type": "CANCELLED", "name": "Cancelled",
               "message": "The flow run was cancelled"}}),
    Vendor("argo-workflow", "argoproj/argo-workflows pkg/apis/workflow/v1alpha1/"
           "workflow_types.go", _workflow, _argo_word, ("POST", _ARGO),
           lambda j, b: Step(_workflow(j, b)), rf"{_ARGO}/{_DOT}",
           cancel=("PUT", rf"{_ARGO}/{_DOT}/stop"), cancel_reply=_ok(
               lambda j: {**_workflow(j, ""), "status": {"phase": "Running"}}),
           cancelled={"status": {"phase": "Failed", "message": "Stopped with strategy 'Stop'"}}),
    Vendor("gitlab-pipeline", "https://docs.gitlab.com/api/pipelines/", _pipeline,
           _gitlab_word, ("POST", f"{_GITLAB}/pipeline"),
           lambda j, b: Step(_pipeline(j, b), 201), rf"{_GITLAB}/pipelines/{_DOT}",
           cancel=("POST", rf"{_GITLAB}/pipelines/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_pipeline(j, ""), "status": "canceling"}),
           cancelled={"status": "canceled", "detailed_status": {"tooltip": "canceled"}}),
    Vendor("circleci-workflow", "https://circleci.com/docs/api/v2/index.html#operation/"
           "getWorkflowById", _circle, _word("status"), None, None,
           rf"/circleci/api/v2/workflow/{_DOT}",
           cancel=("POST", rf"/circleci/api/v2/workflow/{_DOT}/cancel"),
           cancel_reply=_ok({"message": "Accepted."}, 202), cancelled="canceled"),
    Vendor("buildkite-build", "https://buildkite.com/docs/apis/rest-api/builds", _build,
           _buildkite_word, ("POST", _BUILDKITE), lambda j, b: Step(_build(j, b), 201),
           rf"{_BUILDKITE}/{_DOT}", cancel=("PUT", rf"{_BUILDKITE}/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_build(j, ""), "state": "canceling"}),
           cancelled="canceled"),
    Vendor("temporal-workflow", "temporalio/api temporal/api/workflowservice/v1/service.proto",
           _describe, _temporal_word, ("POST", f"{_TEMPORAL}/order-1"),
           lambda j, b: Step({"runId": "run-1", "started": True}), rf"{_TEMPORAL}/{_DOT}",
           cancel=("POST", rf"{_TEMPORAL}/{_DOT}/cancel"), cancel_reply=_ok({}),
           cancelled="CANCELED", start_names_job=True),
    Vendor("cloud-build", "https://cloud.google.com/build/docs/api/reference/rest/v1/"
           "projects.builds", _cloud_build, _cloud_build_word, ("POST", _CLOUD_BUILD),
           lambda j, b: Step(_cloud_build_op(j, b)), rf"{_CLOUD_BUILD}/(?P<id>[^/:]+)",
           cancel=("POST", rf"{_CLOUD_BUILD}/(?P<id>[^/:]+):cancel"),
           cancel_reply=_ok(lambda j: {**_cloud_build(j, ""), "status": "CANCELLED"}),
           cancelled="CANCELLED"),
    Vendor("jenkins-build", "https://www.jenkins.io/doc/book/using/remote-access-api/",
           _queue_item, _jenkins_word, ("POST", f"{_JENKINS}/job/app/build"),
           lambda j, b: Step(None, 201, {"Location": f"{b}{_JENKINS}/queue/item/{j.id}/"}),
           rf"{_JENKINS}/(?:queue/item|job/app)/(?P<id>[0-9]+)/api/json",
           cancel=("POST", rf"{_JENKINS}/job/app/(?P<id>[0-9]+)/stop"), cancel_reply=_ok({}),
           cancelled="ABORTED"),
    Vendor("dagster-run", "dagster-io/dagster python_modules/dagster-graphql/dagster_graphql/"
           "client/client_queries.py", _dagster, _dagster_word, ("POST", "/dagster/graphql"),
           lambda j, b: Step({"data": {"launchRun": {"__typename": "LaunchRunSuccess",
                                                     "run": {"runId": j.id,
                                                             "status": "QUEUED"}}}}),
           r"/dagster/graphql", cancel=("POST", r"/dagster/graphql"),
           cancel_reply=_ok(lambda j: {"data": {"terminateRun": {
               "__typename": "TerminateRunSuccess", "run": {"runId": j.id}}}}),
           cancelled="CANCELED", by_body=_dagster_request, unknown=_dagster_unknown),
    Vendor("huggingface-endpoint", "huggingface/huggingface_hub "
           "src/huggingface_hub/_inference_endpoints.py", _endpoint, _endpoint_word,
           ("POST", "/hf-endpoints/v2/endpoint/ns"), lambda j, b: Step(_endpoint(j, b)),
           rf"/hf-endpoints/v2/endpoint/ns/{_DOT}"),
]

STATUS_PATHS_OPS = {
    "airflow-dag-run": lambda j: f"{_AIRFLOW}/{quote(j.id, safe='/:@')}",
    "prefect-flow-run": lambda j: f"/prefect/api/flow_runs/{j.id}",
    "argo-workflow": lambda j: f"{_ARGO}/{j.id}",
    "gitlab-pipeline": lambda j: f"{_GITLAB}/pipelines/{j.id}",
    "circleci-workflow": lambda j: f"/circleci/api/v2/workflow/{j.id}",
    "buildkite-build": lambda j: f"{_BUILDKITE}/{j.id}",
    "temporal-workflow": lambda j: f"{_TEMPORAL}/{j.id}",
    "cloud-build": lambda j: f"{_CLOUD_BUILD}/{j.id}",
    "huggingface-endpoint": lambda j: f"/hf-endpoints/v2/endpoint/ns/{j.id}",
    "jenkins-build": lambda j: f"{_JENKINS}/queue/item/{j.id}/api/json",
    "dagster-run": lambda j: f"/dagster/graphql?runId={j.id}",
}

IDS_OPS = {"airflow-dag-run": "manual__2026-01-01T00:00:{n:02d}+00:00",
           "prefect-flow-run": "0f1e2d3c-{n:04d}", "argo-workflow": "hello-{n:04d}",
           "gitlab-pipeline": "{n}", "buildkite-build": "{n}", "circleci-workflow":
           "5034460f-c7c4-4c43-9457-de07e2029e7b-{n}", "temporal-workflow": "order-{n}",
           "cloud-build": "b{n:04d}", "huggingface-endpoint": "gpt2-{n:04d}",
           "jenkins-build": "{n}", "dagster-run": "9f3c-{n:04d}"}

SCENARIOS_OPS: dict[str, dict[str, tuple[list[Any], str]]] = {
    "dagster-run": {
        "succeeded": (["QUEUED", "STARTING", "STARTED", "SUCCESS"], "succeeded"),
        "failure": (["STARTED", "FAILURE"], "failed"),
        "canceling": (["STARTED", "CANCELING", "CANCELED"], "failed"),
        "python-error": (["STARTED", {"data": {"runOrError": {
            "__typename": "PythonError", "message": "DagsterInstance is not available"}}}],
                         "failed"),
    },
    "jenkins-build": {
        "succeeded": (["queued", "left", "building", "SUCCESS"], "succeeded"),
        "failure": (["queued", "left", "building", "FAILURE"], "failed"),
        "unstable": (["left", "building", "UNSTABLE"], "succeeded"),
        "cancelled-in-queue": (["queued", {"cancelled": True, "why": None}], "failed"),
    },
    "airflow-dag-run": {
        "succeeded": (["queued", "running", "success"], "succeeded"),
        "failed": (["running", "failed"], "failed"),
    },
    "prefect-flow-run": {
        "succeeded": (["SCHEDULED:Late", "PENDING", "RUNNING", "COMPLETED"], "succeeded"),
        "retried": (["RUNNING", "SCHEDULED:AwaitingRetry", "RUNNING:Retrying", "COMPLETED"],
                    "succeeded"),
        "crashed": (["RUNNING", {"state_type": "CRASHED", "state": {
            "type": "CRASHED", "name": "Crashed",
            "message": "Flow run infrastructure exited with non-zero status code 137."}}],
                    "failed"),
        "paused": (["RUNNING", {"state_type": "PAUSED", "state": {
            "type": "PAUSED", "name": "Suspended",
            "message": "Waiting for input: approve the release"}}], "needs_action"),
    },
    "argo-workflow": {
        "succeeded": ([{}, "Running", "Succeeded"], "succeeded"),
        "error": (["Running", {"status": {"phase": "Error",
                                          "message": "pod deleted during operation"}}],
                  "failed"),
        "suspended": (["Running", {"spec": {"suspend": True},
                                   "status": {"phase": "Running", "progress": "1/4"}}],
                      "needs_action"),
    },
    "gitlab-pipeline": {
        "succeeded": (["pending", "running", "success"], "succeeded"),
        "failed": (["running", {"status": "failed", "detailed_status": {
            "tooltip": "failed - (script failure)"}}], "failed"),
        "manual": (["running", "manual"], "needs_action"),
        "canceling": (["running", "canceling", "canceled"], "failed"),
    },
    "circleci-workflow": {
        "succeeded": (["running", "success"], "succeeded"),
        "failing-then-failed": (["running", "failing", "failed"], "failed"),
        "on-hold": (["running", "on_hold"], "needs_action"),
    },
    "buildkite-build": {
        "succeeded": (["scheduled", "running", "passed"], "succeeded"),
        "failing-then-failed": (["running", "failing", "failed"], "failed"),
        "blocked": (["running", "blocked"], "needs_action"),
    },
    "temporal-workflow": {
        "succeeded": (["RUNNING", "COMPLETED"], "succeeded"),
        "continued-as-new": (["RUNNING", "CONTINUED_AS_NEW", "RUNNING@2", "COMPLETED@2"],
                             "succeeded"),
        "timed-out": (["RUNNING", "TIMED_OUT"], "failed"),
    },
    "cloud-build": {
        "succeeded": (["QUEUED", "WORKING", "SUCCESS"], "succeeded"),
        "failure": (["WORKING", {"status": "FAILURE", "statusDetail": "Build step failure",
                                 "failureInfo": {"type": "USER_BUILD_STEP",
                                                 "detail": "Step #0 exited with code 1"}}],
                    "failed"),
    },
    "huggingface-endpoint": {
        "succeeded": (["pending", "initializing", "running"], "succeeded"),
        "update-failed": (["updating", {"status": {
            "state": "updateFailed", "message": "Endpoint update failed",
            "errorMessage": "Image pull failed: manifest unknown"}}], "failed"),
        "paused": (["initializing", "paused"], "needs_action"),
    },
}

START_BODIES_OPS: dict[str, Any] = {
    "dagster-run": {"query": "mutation LaunchRun($executionParams: ExecutionParams!) { "
                             "launchRun(executionParams: $executionParams) { __typename "
                             "... on LaunchRunSuccess { run { runId status } } } }",
                    "variables": {"executionParams": {"selector": {
                        "repositoryLocationName": "etl", "repositoryName": "__repository__",
                        "jobName": "nightly"}, "runConfigData": {}}}},
    "jenkins-build": None,  # POST /job/{name}/build takes no body (buildWithParameters: a form)
    "airflow-dag-run": {"logical_date": None, "conf": {"day": "2026-01-01"}},
    "prefect-flow-run": {"parameters": {"day": "2026-01-01"}},
    "argo-workflow": {"workflow": {"metadata": {"generateName": "hello-"},
                                   "spec": {"entrypoint": "main"}}},
    "gitlab-pipeline": {"ref": "main", "variables": [{"key": "DEPLOY", "value": "1"}]},
    "buildkite-build": {"commit": "HEAD", "branch": "main", "message": "Deploy"},
    "temporal-workflow": {"workflowType": {"name": "OrderWorkflow"},
                          "taskQueue": {"name": "orders"}},
    "cloud-build": {"steps": [{"name": "gcr.io/cloud-builders/docker",
                               "args": ["build", "-t", "gcr.io/acme/app", "."]}]},
    "huggingface-endpoint": {"name": "gpt2", "type": "protected",
                             "model": {"repository": "gpt2", "framework": "pytorch"}},
}

REASONS_OPS = {
    ("dagster-run", "failure"): "ended with FAILURE",
    ("dagster-run", "python-error"): "PythonError: DagsterInstance is not available",
    ("jenkins-build", "failure"): ": FAILURE",
    ("jenkins-build", "cancelled-in-queue"): "the queue item was cancelled",
    ("airflow-dag-run", "failed"): "the DAG run failed",
    ("prefect-flow-run", "crashed"): "non-zero status code 137",
    ("prefect-flow-run", "paused"): "Waiting for input: approve the release",
    ("argo-workflow", "error"): "pod deleted during operation",
    ("argo-workflow", "suspended"): "the workflow is suspended",
    ("gitlab-pipeline", "failed"): "failed - (script failure)",
    ("gitlab-pipeline", "manual"): "manual action",
    ("circleci-workflow", "failing-then-failed"): "workflow build-and-test failed",
    ("circleci-workflow", "on-hold"): "on_hold",
    ("buildkite-build", "blocked"): "blocked: Deploy",
    ("temporal-workflow", "timed-out"): "WORKFLOW_EXECUTION_STATUS_TIMED_OUT",
    ("cloud-build", "failure"): "USER_BUILD_STEP: Step #0 exited with code 1",
    ("huggingface-endpoint", "update-failed"): "Image pull failed",
    ("huggingface-endpoint", "paused"): "Endpoint is paused",
}

RUNNING_OPS: dict[str, Any] = {
    "airflow-dag-run": "running", "prefect-flow-run": "RUNNING", "argo-workflow": "Running",
    "gitlab-pipeline": "running", "circleci-workflow": "running", "buildkite-build": "running",
    "temporal-workflow": "RUNNING", "cloud-build": "WORKING",
    "huggingface-endpoint": "initializing", "jenkins-build": "building",
    "dagster-run": "STARTED",
}

#: The notes of the partial successes.
PARTIAL_NOTES_OPS = {("jenkins-build", "unstable"): "is unstable (it ran; some tests failed)"}


# -- Temporal, run by run -----------------------------------------------------------------------
# A workflow whose runs continue as new, described run by run. temporalio/api
# temporal/api/workflowservice/v1/service.proto: DescribeWorkflowExecution is
# GET /api/v1/namespaces/{namespace}/workflows/{execution.workflow_id}, its other field,
# execution.run_id, a query parameter; without a run id it describes the workflow's newest run.
# A run that continued as new stays WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW when described by
# its own id (temporal/api/enums/v1/workflow.proto), and its describe does not name the next run
# (WorkflowExecutionInfo has execution, status, ... and no next run id).


class TemporalRuns(LoopbackHTTP):
    """``runs``: run id -> the statuses it is described with, one per describe of that run
    (the last repeats). The newest run is the first not yet ended by CONTINUED_AS_NEW."""

    def __init__(self, workflow_id: str, runs: dict[str, list[str]]) -> None:
        import threading

        self.workflow_id, self.runs = workflow_id, runs
        self.served: dict[str, int] = dict.fromkeys(runs, 0)
        #: (path with query, the run described) of every request.
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                code, doc = outer._describe(self.path)
                send_json(self, code, doc)

        super().__init__(Handler)
        self.url = f"{self.origin}{_TEMPORAL}/{quote(workflow_id, safe='')}"

    def _newest(self) -> str:
        for run, phases in self.runs.items():
            if not (self.served[run] and phases[min(self.served[run], len(phases)) - 1]
                    == "CONTINUED_AS_NEW"):
                return run
        return list(self.runs)[-1]

    def _describe(self, path: str) -> tuple[int, dict[str, Any]]:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(path)
        with self.lock:
            if parts.path != urlsplit(self.url).path:
                return 404, {"code": 5, "message": "workflow not found"}
            asked = parse_qs(parts.query).get("execution.run_id")
            run = asked[0] if asked else self._newest()
            if run not in self.runs:
                return 404, {"code": 5, "message": f"workflow run {run} not found"}
            phases = self.runs[run]
            status = phases[min(self.served[run], len(phases) - 1)]
            self.served[run] += 1
            self.requests.append((path, run))
        doc = _describe(Job("temporal-workflow", self.workflow_id, []), "")
        info = doc["workflowExecutionInfo"]
        info["execution"]["runId"] = run
        info["status"] = f"WORKFLOW_EXECUTION_STATUS_{status}"
        return 200, doc

