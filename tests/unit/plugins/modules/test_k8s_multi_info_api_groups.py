"""k8s_multi_info's api_groups: whether the API server serves a group (or a version of it), from one request."""

from ansible_collections.vyogotech.frappe.plugins.modules import k8s_multi_info


class Answer:
    def __init__(self, groups):
        self.groups = groups


class DynamicClient:
    """What api_groups_served uses of kubernetes.core's client: one raw GET of /apis."""

    def __init__(self, groups):
        self.answer = Answer(groups)
        self.requests = []

    def request(self, method, path):
        self.requests.append((method, path))
        return self.answer


class Client:
    def __init__(self, groups):
        self.client = DynamicClient(groups)


GROUPS = [
    {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]},
    {"name": "keda.sh", "versions": [{"groupVersion": "keda.sh/v1alpha1", "version": "v1alpha1"}]},
    {"name": "cert-manager.io", "versions": [{"groupVersion": "cert-manager.io/v1", "version": "v1"},
                                             {"groupVersion": "cert-manager.io/v1beta1", "version": "v1beta1"}]},
]


def test_groups_and_versions_are_answered_from_one_request():
    client = Client(GROUPS)
    served = k8s_multi_info.api_groups_served(
        client, ["keda.sh/v1alpha1", "keda.sh/v1", "cert-manager.io", "k8s.mariadb.com/v1alpha1", "k8s.mariadb.com"])
    assert served == {"keda.sh/v1alpha1": True, "keda.sh/v1": False, "cert-manager.io": True,
                      "k8s.mariadb.com/v1alpha1": False, "k8s.mariadb.com": False}
    assert client.client.requests == [("GET", "/apis")]


def test_nothing_asked_costs_no_request():
    client = Client(GROUPS)
    assert k8s_multi_info.api_groups_served(client, []) == {}
    assert client.client.requests == []


def test_a_cluster_without_optional_groups_answers_false():
    assert k8s_multi_info.api_groups_served(Client([]), ["keda.sh/v1alpha1"]) == {"keda.sh/v1alpha1": False}
