"""The AWX configuration as code (awx/configure.yml and awx/surveys/), without an AWX.

There is no AWX instance here. The playbook is syntax-checked against the
awx.awx collection of the pinned ansible package (hack/lint.sh holds it to
ansible-lint's production profile too), each survey is held to the rules AWX's
API applies to a survey spec, and its questions to the variables its playbook
reads. tests/integration/test_awx_runner.py runs site.yml with the answers.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGURE = REPO / "awx" / "configure.yml"
PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

# The question types AWX knows and the type of their answers and defaults.
ANSWER_TYPES = {"text": str, "textarea": str, "password": str, "integer": int, "float": (int, float),
                "multiplechoice": str, "multiselect": str}
# Play variables that are no input: the interpreter is the execution environment's,
# frappe_rendered collects output, frappe_render_path is derived from frappe_render_dir,
# frappe_converge_pause_seconds is the bench role's requeue period (a unit test keeps them equal),
# frappe_bench_read_settings passes the bench role's variables on, frappe_round_reads and
# frappe_round_bench_reads are what a round of site.yml reads, derived from the manifest.
NOT_ASKED = {"ansible_python_interpreter", "frappe_rendered", "frappe_render_path", "frappe_converge_pause_seconds",
             "frappe_bench_read_settings", "frappe_round_reads", "frappe_round_bench_reads"}


class _PlaybookLoader(yaml.SafeLoader):
    """Reads !unsafe (text Ansible leaves untemplated) as the plain string."""


_PlaybookLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def configure_play():
    return yaml.load(CONFIGURE.read_text(), Loader=_PlaybookLoader)[0]


def task_using(module):
    return next(t for t in configure_play()["tasks"] if module in t)


def job_templates():
    """{playbook: survey spec} of the job templates configure.yml creates."""
    task = task_using("awx.awx.job_template")
    assert "lookup('ansible.builtin.file', item.survey)" in task["awx.awx.job_template"]["survey_spec"]
    return {item["playbook"]: yaml.safe_load((CONFIGURE.parent / item["survey"]).read_text()) for item in task["loop"]}


def playbook_text(playbook):
    """The playbook and the task files it includes, and those they include (each relative to its includer)."""
    texts, seen, pending = [], set(), [REPO / playbook]
    while pending:
        path = pending.pop(0).resolve()
        if path in seen:
            continue
        seen.add(path)
        text = path.read_text()
        texts.append(text)
        pending += [path.parent / i for i in re.findall(r"include_tasks: (\S+\.yml)", text)]
    return "\n".join(texts)


def plain_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}


def awx_spec_errors(survey):
    """What AWX's API refuses in a survey spec (api/views JobTemplateSurveySpec)."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(survey.get(field), kind):
            errors.append("%s missing or not a %s" % (field, kind.__name__))
    seen = set()
    for question in survey.get("spec") or []:
        for field, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if not isinstance(question.get(field), kind):
                errors.append("%s: %s missing or not a %s" % (question.get("variable"), field, kind.__name__))
        var, qtype = question.get("variable"), question.get("type")
        if var in seen:
            errors.append("%s asked twice" % var)
        seen.add(var)
        if qtype not in ANSWER_TYPES:
            errors.append("%s: unknown type %s" % (var, qtype))
            continue
        default = question.get("default", "")
        if default != "" and not isinstance(default, ANSWER_TYPES[qtype]):
            errors.append("%s: default %r is not a %s answer" % (var, default, qtype))
        for limit in ("min", "max"):
            if question.get(limit) is not None and not isinstance(question[limit], int):
                errors.append("%s: %s is not an integer" % (var, limit))
        if qtype in ("multiplechoice", "multiselect"):
            choices = question.get("choices")
            if not choices:
                errors.append("%s: no choices" % var)
            elif default != "" and default not in choices:
                errors.append("%s: default %r is not a choice" % (var, default))
        elif qtype in ("text", "textarea") and default != "":
            if not question.get("min", 0) <= len(default) <= question.get("max", len(default)):
                errors.append("%s: default %r is outside min/max" % (var, default))
    return errors


def test_configure_playbook_passes_the_syntax_check():
    proc = subprocess.run([str(PLAYBOOK), "--syntax-check", str(CONFIGURE)], cwd=str(REPO), env=plain_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_configure_playbook_asks_for_the_project_and_image_before_calling_awx(tmp_path):
    # No CONTROLLER_HOST: a call to AWX would fail differently, and later.
    env = {k: v for k, v in plain_env().items() if not k.startswith(("CONTROLLER_", "TOWER_"))}
    proc = subprocess.run([str(PLAYBOOK), str(CONFIGURE)], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "-e frappe_awx_project_url=<git URL> -e frappe_awx_ee_image=<registry/image:tag>" in proc.stdout, proc.stdout


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_awx_task_gets_arguments_its_module_accepts(tmp_path):
    """Everything short of AWX itself: the surveys and the kubeconfig are read, each task's arguments
    templated and accepted by its module, which then fails on the connection alone (nothing listens)."""
    copy = tmp_path / "awx"
    shutil.copytree(str(CONFIGURE.parent), str(copy))
    text = (copy / "configure.yml").read_text()
    # Carry on past each failed call, to reach every task.
    (copy / "configure.yml").write_text(text.replace("  gather_facts: false\n", "  gather_facts: false\n  ignore_errors: true\n", 1))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    env = plain_env()
    env.update(CONTROLLER_HOST="http://127.0.0.1:%d" % closed_port(), CONTROLLER_OAUTH_TOKEN="not-a-token-of-any-awx",
               ANSIBLE_STDOUT_CALLBACK="json")
    proc = subprocess.run([str(PLAYBOOK), str(copy / "configure.yml"), "-e", "frappe_awx_project_url=https://git.example.com/frappe.git",
                           "-e", "frappe_awx_ee_image=registry.example.com/frappe-ee:0.1.0", "-e", "frappe_awx_kubeconfig=%s" % kubeconfig],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    outcomes = {}
    for task in json.loads(proc.stdout)["plays"][0]["tasks"]:
        result = task["hosts"]["localhost"]
        assert not result.get("skipped"), task["task"]["name"]
        outcomes[task["task"]["name"]] = [r.get("msg", "") for r in result.get("results", [])] or [result.get("msg", "")]
    assert list(outcomes) == [t["name"] for t in configure_play()["tasks"]]
    assert outcomes.pop("Check the arguments") == ["All assertions passed"]
    # no_log hides the credential's message; each other call names the refused connection.
    outcomes.pop("Store the kubeconfig as a credential")
    assert len(outcomes["Create the job templates"]) == 2
    for name, messages in outcomes.items():
        assert all("Connection refused" in m for m in messages), (name, messages)


def test_job_templates_run_the_two_playbooks_with_valid_surveys():
    templates = job_templates()
    assert sorted(templates) == ["playbooks/render.yml", "playbooks/site.yml"]
    for playbook, survey in templates.items():
        assert (REPO / playbook).is_file()
        assert awx_spec_errors(survey) == [], playbook


def test_site_survey_asks_the_issue_questions():
    questions = {q["variable"]: q for q in job_templates()["playbooks/site.yml"]["spec"]}
    assert list(questions) == ["frappe_manifest", "frappe_namespace", "frappe_install_crds", "frappe_converge_seconds"]
    assert questions["frappe_manifest"]["type"] == "text" and questions["frappe_manifest"]["required"]
    assert "default" not in questions["frappe_manifest"]
    assert questions["frappe_namespace"]["default"] == "default"
    assert questions["frappe_install_crds"]["type"] == "multiplechoice"
    assert sorted(questions["frappe_install_crds"]["choices"]) == ["false", "true"]
    # How long one launch keeps reconciling benches on their way: the play's own default, 0 allowed (one round).
    converge = questions["frappe_converge_seconds"]
    play = yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())[0]
    assert converge["type"] == "integer" and converge["min"] == 0 and not converge["required"]
    assert converge["default"] == play["vars"]["frappe_converge_seconds"]


def test_survey_variables_are_the_inputs_their_playbook_reads():
    for playbook, survey in job_templates().items():
        play = yaml.safe_load((REPO / playbook).read_text())[0]
        text = playbook_text(playbook)
        # Inputs without a default: the playbook asserts them before anything else, or hands them to
        # vyogotech.frappe.read_manifest, which refuses an empty manifest first.
        required = set(re.findall(r"(?<![.\w])(\w+) \| default\(''\) \| length > 0", text)) | set(re.findall(
            r"vyogotech\.frappe\.read_manifest:\s+manifest: \"\{\{ (\w+) \| default\(''\) \}\}\"", text))
        asked = {q["variable"]: q for q in survey["spec"]}
        assert set(asked) == required | (set(play["vars"]) - NOT_ASKED), playbook
        for var in asked:
            assert re.search(r"\b%s\b" % var, text), "%s does not read %s" % (playbook, var)
        for var in required:
            assert asked[var]["required"], (playbook, var)
        # A multiple-choice answer is a string: the playbook must take it as a boolean.
        for var, question in asked.items():
            if question["type"] == "multiplechoice" and set(question["choices"]) == {"true", "false"}:
                assert re.search(r"%s \| bool\b" % var, text), "%s does not read %s with | bool" % (playbook, var)


def test_kubeconfig_credential_type_hands_its_file_to_kubernetes_core():
    args = task_using("awx.awx.credential_type")["awx.awx.credential_type"]
    assert args["kind"] == "cloud"
    (field,) = args["inputs"]["fields"]
    assert field["id"] == "kubeconfig" and field["secret"] and field["multiline"]
    assert args["inputs"]["required"] == ["kubeconfig"]
    assert args["injectors"] == {"file": {"template": "{{ kubeconfig }}"},
                                 "env": {"K8S_AUTH_KUBECONFIG": "{{ tower.filename }}"}}
