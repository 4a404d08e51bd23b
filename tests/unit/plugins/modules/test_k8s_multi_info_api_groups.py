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
        k8s_multi_info.served_versions(client),
        ["keda.sh/v1alpha1", "keda.sh/v1", "cert-manager.io", "k8s.mariadb.com/v1alpha1", "k8s.mariadb.com"])
    assert served == {"keda.sh/v1alpha1": True, "keda.sh/v1": False, "cert-manager.io": True,
                      "k8s.mariadb.com/v1alpha1": False, "k8s.mariadb.com": False}
    assert client.client.requests == [("GET", "/apis")]


def test_a_cluster_without_optional_groups_answers_false():
    served = k8s_multi_info.served_versions(Client([]))
    assert k8s_multi_info.api_groups_served(served, ["keda.sh/v1alpha1"]) == {"keda.sh/v1alpha1": False}


class DiscoveringClient(Client):
    """kubernetes.core's client as read_all uses it; its discovery of a kind it does not know drops and refetches
    every group (kubernetes.dynamic Discoverer.search), which a read of an unserved group must never reach."""

    def __init__(self, groups):
        super().__init__(groups)
        self.discovered = []

    def resource(self, kind, api_version):
        self.discovered.append(api_version)
        return type("Resource", (), {"namespaced": True, "kind": kind, "group_version": api_version})()

    def get(self, resource, **params):
        return type("List", (), {"items": []})()


def test_a_read_of_a_group_version_not_served_is_answered_without_the_clients_discovery():
    client = DiscoveringClient(GROUPS)
    reads = [{"key": "deployments", "api_version": "apps/v1", "kind": "Deployment", "namespace": "shop"},
             {"key": "pods", "api_version": "v1", "kind": "Pod", "namespace": "shop"},
             {"key": "ingress", "api_version": "config.openshift.io/v1", "kind": "Ingress", "name": "cluster"},
             {"key": "scaledobjects", "api_version": "keda.sh/v1", "kind": "ScaledObject", "namespace": "shop"}]
    objects, unserved = k8s_multi_info.read_all(client, reads, served=k8s_multi_info.served_versions(client))
    assert objects == {"deployments": [], "pods": [], "ingress": [], "scaledobjects": []}
    assert unserved == ["ingress", "scaledobjects"]
    assert client.discovered == ["apps/v1", "v1"]
    assert client.client.requests == [("GET", "/apis")]
