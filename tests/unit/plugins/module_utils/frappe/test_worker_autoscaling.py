# -*- coding: utf-8 -*-
# Copyright (c) vyogotech maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the worker_autoscaling filter and of the FrappeBench CRD defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe.errors import InvalidInput

from ansible_collections.vyogotech.frappe.plugins.module_utils.frappe import autoscaling as wa

REPO_ROOT = Path(__file__).resolve().parents[5]
BENCH_CRD_PATH = REPO_ROOT / 'config' / 'crd' / 'bases' / 'vyogo.tech_frappebenches.yaml'

EXPECTED_TABLE = {
    #          enabled, min, max, queueLength, cooldown, polling, static
    'short': (True, 0, 10, 5, 60, 30, 1),
    'long': (True, 0, 5, 2, 300, 30, 1),
    'default': (False, 0, 10, 5, 60, 30, 1),
}
TABLE_FIELDS = ('enabled', 'minReplicas', 'maxReplicas', 'queueLength',
                'cooldownPeriod', 'pollingInterval', 'staticReplicas')
LEGACY = {'short': 'workerShort', 'long': 'workerLong', 'default': 'workerDefault'}


def resolve(spec=None, keda=True, bench_id='mybench', **kwargs):
    if spec is None:
        spec = {'frappeVersion': 'version-15'}
    return wa.worker_autoscaling(spec, keda_available=keda, bench_id=bench_id, **kwargs)


def raises(spec=None, match=None, **kwargs):
    with pytest.raises(InvalidInput) as info:
        resolve(spec, **kwargs)
    message = str(info.value)
    if match is not None:
        assert match in message, message
    return message


# --------------------------------------------------------------------------
# defaults
# --------------------------------------------------------------------------

@pytest.mark.parametrize('worker_type', sorted(EXPECTED_TABLE))
def test_defaults_table_rows(worker_type):
    expected = dict(zip(TABLE_FIELDS, EXPECTED_TABLE[worker_type]))
    assert wa.DEFAULTS[worker_type] == expected
    entry = resolve(keda=False)[worker_type]
    for field, value in expected.items():
        assert entry[field] == value, field
    assert entry['source'] == 'defaults'
    assert entry['deprecatedFields'] == []
    assert entry['queues'] == [worker_type]
    assert entry['type'] == worker_type


def test_defaults_cover_exactly_three_worker_types():
    assert set(wa.DEFAULTS) == {'short', 'long', 'default'}
    assert set(resolve()) == {'short', 'long', 'default'}


def test_result_does_not_share_state_with_defaults():
    plan = resolve()
    plan['short']['queues'].append('x')
    plan['short']['maxReplicas'] = 1
    again = resolve()
    assert again['short']['queues'] == ['short']
    assert again['short']['maxReplicas'] == 10


def test_input_spec_is_not_modified():
    spec = {
        'workerAutoscalingConfig': {'short': {'maxReplicas': '4'}},
        'workerAutoscaling': {'long': {}},
        'componentReplicas': {'workerDefault': 2},
    }
    before = copy.deepcopy(spec)
    resolve(spec)
    assert spec == before


# --------------------------------------------------------------------------
# KEDA present / absent
# --------------------------------------------------------------------------

def test_keda_present_defaults():
    plan = resolve(keda=True)
    for worker_type in ('short', 'long'):
        entry = plan[worker_type]
        assert entry['kedaManaged'] is True
        assert entry['mode'] == 'autoscaled'
        assert entry['replicas'] == 0
        assert entry['warnings'] == []
    default = plan['default']
    assert default['kedaManaged'] is False
    assert default['mode'] == 'static'
    assert default['replicas'] == 1
    assert default['warnings'] == []


def test_keda_absent_falls_back_to_static_replicas():
    plan = resolve(keda=False)
    for worker_type in ('short', 'long', 'default'):
        entry = plan[worker_type]
        assert entry['kedaManaged'] is False
        assert entry['mode'] == 'static'
        assert entry['replicas'] == 1
    assert plan['short']['warnings'] == [
        'KEDA is not available: worker short runs with 1 static replica(s) instead of scaling 0-10']
    assert plan['long']['warnings'] == [
        'KEDA is not available: worker long runs with 1 static replica(s) instead of scaling 0-5']
    # default is not enabled, so KEDA missing does not matter for it
    assert plan['default']['warnings'] == []


def test_keda_present_uses_min_replicas_as_initial_count():
    spec = {'workerAutoscalingConfig': {'short': {'minReplicas': 2, 'staticReplicas': 7}}}
    assert resolve(spec, keda=True)['short']['replicas'] == 2
    assert resolve(spec, keda=False)['short']['replicas'] == 7


def test_enabled_false_is_static_even_with_keda():
    spec = {'workerAutoscalingConfig': {'long': {'enabled': False, 'staticReplicas': 3}}}
    entry = resolve(spec, keda=True)['long']
    assert entry['kedaManaged'] is False
    assert entry['mode'] == 'static'
    assert entry['replicas'] == 3
    assert entry['warnings'] == []


def test_default_worker_enabled_with_keda():
    spec = {'workerAutoscalingConfig': {'default': {'enabled': True}}}
    entry = resolve(spec)['default']
    assert entry['kedaManaged'] is True
    assert entry['replicas'] == 0
    assert entry['maxReplicas'] == 10


def test_keda_available_defaults_to_false():
    plan = wa.worker_autoscaling({}, bench_id='b')
    assert plan['short']['mode'] == 'static'


# --------------------------------------------------------------------------
# precedence and aliases
# --------------------------------------------------------------------------

def test_deprecated_alias_is_used_and_reported():
    spec = {'workerAutoscaling': {'short': {'maxReplicas': 4}}}
    entry = resolve(spec)['short']
    assert entry['source'] == 'workerAutoscaling'
    assert entry['maxReplicas'] == 4
    # untouched fields still come from the defaults of that worker type
    assert entry['queueLength'] == 5
    assert entry['deprecatedFields'] == ['spec.workerAutoscaling.short']
    assert any('spec.workerAutoscaling.short is deprecated' in w for w in entry['warnings'])
    # other worker types are unaffected
    assert resolve(spec)['long']['source'] == 'defaults'


def test_config_block_wins_over_deprecated_block():
    spec = {
        'workerAutoscalingConfig': {'long': {'maxReplicas': 3}},
        'workerAutoscaling': {'long': {'maxReplicas': 8, 'enabled': False}},
    }
    entry = resolve(spec)['long']
    assert entry['source'] == 'workerAutoscalingConfig'
    assert entry['maxReplicas'] == 3
    assert entry['enabled'] is True  # the long default, not the shadowed block's False
    assert entry['deprecatedFields'] == ['spec.workerAutoscaling.long']
    assert any('spec.workerAutoscaling.long is ignored' in w for w in entry['warnings'])


def test_shadowed_deprecated_block_is_still_validated():
    spec = {
        'workerAutoscalingConfig': {'long': {}},
        'workerAutoscaling': {'long': {'maxReplicas': -1}},
    }
    raises(spec, match='spec.workerAutoscaling.long.maxReplicas')


def test_blocks_are_chosen_per_worker_type():
    spec = {
        'workerAutoscalingConfig': {'short': {'maxReplicas': 2}},
        'workerAutoscaling': {'long': {'maxReplicas': 3}},
        'componentReplicas': {'workerDefault': 4},
    }
    plan = resolve(spec)
    assert plan['short']['source'] == 'workerAutoscalingConfig'
    assert plan['long']['source'] == 'workerAutoscaling'
    assert plan['default']['source'] == 'componentReplicas'
    assert plan['default']['staticReplicas'] == 4


@pytest.mark.parametrize('worker_type', ['short', 'long', 'default'])
def test_legacy_component_replicas_only(worker_type):
    spec = {'componentReplicas': {LEGACY[worker_type]: 3, 'gunicorn': 2}}
    entry = resolve(spec, keda=False)[worker_type]
    assert entry['source'] == 'componentReplicas'
    assert entry['staticReplicas'] == 3
    assert entry['replicas'] == 3
    assert entry['deprecatedFields'] == ['spec.componentReplicas.%s' % LEGACY[worker_type]]
    assert any('spec.componentReplicas.%s' % LEGACY[worker_type] in w for w in entry['warnings'])
    # every other field keeps the worker type's defaults
    for field in TABLE_FIELDS:
        if field != 'staticReplicas':
            assert entry[field] == wa.DEFAULTS[worker_type][field]


def test_legacy_component_replicas_with_keda_keeps_autoscaling_and_warns():
    spec = {'componentReplicas': {'workerShort': 3}}
    entry = resolve(spec, keda=True)['short']
    assert entry['source'] == 'componentReplicas'
    assert entry['staticReplicas'] == 3
    assert entry['mode'] == 'autoscaled'
    assert entry['replicas'] == 0
    assert any('only applies while worker short is not autoscaled' in w for w in entry['warnings'])


@pytest.mark.parametrize('field', ['workerAutoscalingConfig', 'workerAutoscaling'])
def test_component_replicas_ignored_when_a_block_exists(field):
    spec = {field: {'short': {}}, 'componentReplicas': {'workerShort': 4}}
    entry = resolve(spec, keda=False)['short']
    assert entry['source'] == field
    assert entry['staticReplicas'] == 1
    assert 'spec.componentReplicas.workerShort' in entry['deprecatedFields']
    assert any('spec.componentReplicas.workerShort (4) is ignored' in w for w in entry['warnings'])


def test_empty_block_counts_as_present():
    entry = resolve({'workerAutoscalingConfig': {'long': {}}})['long']
    assert entry['source'] == 'workerAutoscalingConfig'
    for field in TABLE_FIELDS:
        assert entry[field] == wa.DEFAULTS['long'][field]


def test_null_sections_and_blocks_count_as_absent():
    spec = {
        'workerAutoscalingConfig': {'short': None},
        'workerAutoscaling': None,
        'componentReplicas': None,
    }
    plan = resolve(spec)
    assert {entry['source'] for entry in plan.values()} == {'defaults'}


def test_null_field_inside_block_uses_default():
    entry = resolve({'workerAutoscalingConfig': {'short': {'maxReplicas': None}}})['short']
    assert entry['maxReplicas'] == 10


def test_explicit_static_replicas_zero_is_kept():
    spec = {'workerAutoscalingConfig': {'short': {'staticReplicas': 0}}}
    entry = resolve(spec, keda=False)['short']
    assert entry['staticReplicas'] == 0
    assert entry['replicas'] == 0
    assert any('0 static replicas' in w for w in entry['warnings'])


def test_legacy_zero_replicas_is_kept():
    entry = resolve({'componentReplicas': {'workerLong': 0}}, keda=False)['long']
    assert entry['source'] == 'componentReplicas'
    assert entry['replicas'] == 0


def test_numeric_strings_are_converted():
    spec = {
        'workerAutoscalingConfig': {'short': {'minReplicas': '1', 'maxReplicas': ' 3 '}},
        'componentReplicas': {'workerLong': '2'},
    }
    plan = resolve(spec, keda=False)
    assert plan['short']['minReplicas'] == 1
    assert plan['short']['maxReplicas'] == 3
    assert plan['long']['staticReplicas'] == 2


def test_bench_id_from_spec_when_not_passed():
    plan = wa.worker_autoscaling({'benchId': 'fromspec'}, keda_available=True)
    assert plan['short']['rqQueues'] == ['fromspec:short']


def test_bench_id_argument_wins_over_spec():
    plan = resolve({'benchId': 'fromspec'}, bench_id='arg')
    assert plan['short']['rqQueues'] == ['arg:short']


# --------------------------------------------------------------------------
# queues, redis keys, timeouts
# --------------------------------------------------------------------------

def test_default_queue_names_and_keys():
    plan = resolve(bench_id='mybench')
    for worker_type in ('short', 'long', 'default'):
        entry = plan[worker_type]
        assert entry['queues'] == [worker_type]
        assert entry['rqQueues'] == ['mybench:%s' % worker_type]
        assert entry['redisKeys'] == [{
            'queue': worker_type,
            'waiting': 'rq:queue:mybench:%s' % worker_type,
            'started': 'rq:wip:mybench:%s' % worker_type,
        }]


@pytest.mark.parametrize('worker_type,timeout', [('short', 300), ('default', 300), ('long', 1500)])
def test_job_timeout_and_grace_period_per_type(worker_type, timeout):
    entry = resolve()[worker_type]
    assert entry['jobTimeout'] == timeout
    assert entry['terminationGracePeriodSeconds'] == timeout + 60


@pytest.mark.parametrize('section', ['workerAutoscalingConfig', 'workerAutoscaling'])
def test_grace_period_can_be_set_per_worker_for_jobs_with_their_own_timeout(section):
    spec = {section: {'long': {'terminationGracePeriodSeconds': 7260}, 'short': {'terminationGracePeriodSeconds': '0'}}}
    plan = resolve(spec)
    assert plan['long']['terminationGracePeriodSeconds'] == 7260
    assert plan['long']['jobTimeout'] == 1500  # the queue's default is unchanged
    assert plan['short']['terminationGracePeriodSeconds'] == 0
    assert plan['default']['terminationGracePeriodSeconds'] == 360


@pytest.mark.parametrize('value', [-1, 'soon', True, 1.5])
def test_grace_period_rejects_what_is_not_a_whole_number_of_seconds(value):
    message = raises({'workerAutoscalingConfig': {'long': {'terminationGracePeriodSeconds': value}}},
                     match='spec.workerAutoscalingConfig.long.terminationGracePeriodSeconds')
    assert message


def test_queues_override_and_keys():
    spec = {'queues': {'reports.v2': {'timeout': 2400}},
            'workerAutoscalingConfig': {'default': {'queues': ['default', 'reports.v2']}}}
    entry = resolve(spec, bench_id='b-1.x')['default']
    assert entry['queues'] == ['default', 'reports.v2']
    assert entry['rqQueues'] == ['b-1.x:default', 'b-1.x:reports.v2']
    assert entry['redisKeys'] == [
        {'queue': 'default', 'waiting': 'rq:queue:b-1.x:default', 'started': 'rq:wip:b-1.x:default'},
        {'queue': 'reports.v2', 'waiting': 'rq:queue:b-1.x:reports.v2',
         'started': 'rq:wip:b-1.x:reports.v2'},
    ]
    # The timeout the bench declares for Frappe sizes the grace period too.
    assert entry['jobTimeout'] == 2400
    assert entry['terminationGracePeriodSeconds'] == 2460


def test_a_queue_frappe_would_refuse_is_refused_naming_the_fix():
    spec = {'workerAutoscalingConfig': {'default': {'queues': ['default', 'reports.v2']}}}
    message = raises(spec, match="spec.workerAutoscalingConfig.default.queues[1] ('reports.v2')")
    assert "Queue should be one of short, default, long" in message
    assert 'spec.queues: {reports.v2: {timeout: 1500}}' in message


def test_declared_queues_are_frappes_workers_entry():
    spec = {'queues': {'reports': {'timeout': '5000'}, 'mail': None, 'long': {'timeout': 3000}}}
    assert wa.declared_queues(spec) == {
        'long': {'timeout': 3000}, 'mail': {'timeout': 300}, 'reports': {'timeout': 5000}}
    # get_queues_timeout: an entry may retime a built-in queue.
    assert wa.queue_timeouts(spec) == {'short': 300, 'default': 300, 'long': 3000, 'mail': 300, 'reports': 5000}
    assert resolve(dict(spec, frappeVersion='version-15'))['long']['terminationGracePeriodSeconds'] == 3060
    assert wa.declared_queues({}) == {}


@pytest.mark.parametrize('queues,match', [
    (['reports'], 'spec.queues must be a mapping'),
    ({'bad name': {}}, "queue name 'bad name' must match"),
    ({'reports': {'timeout': 0}}, r'spec.queues.reports.timeout \(0\) must be >= 1'),
    ({'reports': {'timeout': True}}, 'spec.queues.reports.timeout must be an integer'),
    ({'reports': {'background_workers': 2}}, 'spec.queues.reports has unknown field'),
])
def test_declared_queues_refuse_bad_input(queues, match):
    with pytest.raises(InvalidInput, match=match):
        wa.declared_queues({'queues': queues})


def test_crd_queue_timeout_default_is_frappes(bench_spec_schema):
    timeout = bench_spec_schema['properties']['queues']['additionalProperties']['properties']['timeout']
    assert timeout['default'] == wa.DEFAULT_QUEUE_TIMEOUT and timeout['minimum'] == 1
    rule = bench_spec_schema['properties']['queues']['x-kubernetes-validations'][0]['rule']
    assert wa.NAME_PATTERN in rule


def test_multiple_queues_use_the_longest_timeout():
    spec = {'workerAutoscalingConfig': {'short': {'queues': ['short', 'long']}}}
    entry = resolve(spec)['short']
    assert entry['jobTimeout'] == 1500
    assert entry['terminationGracePeriodSeconds'] == 1560
    spec = {'workerAutoscalingConfig': {'short': {'queues': ['short', 'default']}}}
    entry = resolve(spec)['short']
    assert entry['jobTimeout'] == 300
    assert entry['terminationGracePeriodSeconds'] == 360


def test_queue_shared_by_two_workers_warns():
    spec = {'workerAutoscalingConfig': {'short': {'queues': ['short', 'long']}}}
    plan = resolve(spec)
    assert any('queue long is consumed by workers short and long' in w for w in plan['short']['warnings'])
    assert any('queue long is consumed by workers short and long' in w for w in plan['long']['warnings'])


# --------------------------------------------------------------------------
# invalid input
# --------------------------------------------------------------------------

def test_min_greater_than_max_message():
    spec = {'workerAutoscalingConfig': {'short': {'minReplicas': 5, 'maxReplicas': 2}}}
    message = raises(spec)
    assert message == ('spec.workerAutoscalingConfig.short.minReplicas (5) must be <= maxReplicas (2): '
                       'lower minReplicas or raise maxReplicas')


def test_min_greater_than_default_max():
    spec = {'workerAutoscaling': {'long': {'minReplicas': 6}}}
    raises(spec, match='spec.workerAutoscaling.long.minReplicas (6) must be <= maxReplicas (5)')


@pytest.mark.parametrize('field', sorted(wa.MINIMUMS))
def test_values_below_minimum(field):
    value = wa.MINIMUMS[field] - 1
    spec = {'workerAutoscalingConfig': {'long': {field: value}}}
    message = raises(spec, match='spec.workerAutoscalingConfig.long.%s (%d)' % (field, value))
    assert 'must be >= %d' % wa.MINIMUMS[field] in message


@pytest.mark.parametrize('value', [True, False, 1.5, 2.0, 'three', '', [1], {'a': 1}])
def test_non_integer_values(value):
    spec = {'workerAutoscalingConfig': {'short': {'maxReplicas': value}}}
    message = raises(spec, match='spec.workerAutoscalingConfig.short.maxReplicas must be an integer')
    if isinstance(value, bool):
        assert 'boolean' in message


@pytest.mark.parametrize('value', ['true', 'false', 1, 0])
def test_enabled_must_be_boolean(value):
    spec = {'workerAutoscalingConfig': {'default': {'enabled': value}}}
    raises(spec, match='spec.workerAutoscalingConfig.default.enabled must be a boolean')


@pytest.mark.parametrize('queues,fragment', [
    ([], 'spec.workerAutoscalingConfig.short.queues must be a non-empty list'),
    ('short', 'spec.workerAutoscalingConfig.short.queues must be a non-empty list'),
    ([''], 'spec.workerAutoscalingConfig.short.queues[0] must be a non-empty string'),
    (['short', 3], 'spec.workerAutoscalingConfig.short.queues[1] must be a non-empty string'),
    (['a:b'], 'spec.workerAutoscalingConfig.short.queues[0] (\'a:b\') must match'),
    (['has space'], 'spec.workerAutoscalingConfig.short.queues[0]'),
    (['short', 'short'], 'spec.workerAutoscalingConfig.short.queues[1] (\'short\') is listed twice'),
])
def test_invalid_queues(queues, fragment):
    spec = {'workerAutoscalingConfig': {'short': {'queues': queues}}}
    raises(spec, match=fragment)


def test_unknown_key_in_worker_block():
    spec = {'workerAutoscaling': {'long': {'maxReplica': 3}}}
    message = raises(spec, match='spec.workerAutoscaling.long has unknown field(s) maxReplica')
    assert 'maxReplicas' in message  # the allowed fields are listed


def test_unknown_worker_type():
    raises({'workerAutoscalingConfig': {'huge': {}}},
           match='spec.workerAutoscalingConfig has unknown worker type(s) huge')


@pytest.mark.parametrize('section', [[], 'short', 3])
def test_section_not_a_mapping(section):
    raises({'workerAutoscalingConfig': section}, match='spec.workerAutoscalingConfig must be a mapping')


def test_block_not_a_mapping():
    raises({'workerAutoscaling': {'short': [1]}}, match='spec.workerAutoscaling.short must be a mapping')


def test_component_replicas_invalid():
    raises({'componentReplicas': {'workerShort': -1}}, match='spec.componentReplicas.workerShort (-1) must be >= 0')
    raises({'componentReplicas': {'workerLong': 'x'}}, match='spec.componentReplicas.workerLong must be an integer')
    raises({'componentReplicas': []}, match='spec.componentReplicas must be a mapping')


@pytest.mark.parametrize('spec', [None, [], 'spec', 3])
def test_spec_not_a_mapping(spec):
    with pytest.raises(InvalidInput, match='expects the FrappeBench spec'):
        wa.worker_autoscaling(spec, keda_available=True, bench_id='b')


@pytest.mark.parametrize('keda', ['true', 1, None, 'yes'])
def test_keda_available_not_boolean(keda):
    raises({}, match='keda_available must be a boolean', keda=keda)


@pytest.mark.parametrize('bench_id', ['', 'a/b', 'a:b', 'with space', 3])
def test_invalid_bench_id(bench_id):
    raises({}, match='bench_id', bench_id=bench_id)


def test_invalid_bench_id_in_spec_names_the_field():
    with pytest.raises(InvalidInput, match='spec.benchId'):
        wa.worker_autoscaling({'benchId': 'a:b'}, keda_available=True)


def test_missing_bench_id():
    with pytest.raises(InvalidInput, match='bench_id is required'):
        wa.worker_autoscaling({}, keda_available=True)


# --------------------------------------------------------------------------
# the CRD carries the same defaults and minimums as the filter
# --------------------------------------------------------------------------

@pytest.fixture(scope='module')
def bench_spec_schema():
    with BENCH_CRD_PATH.open() as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc]
    assert len(documents) == 1
    crd = documents[0]
    assert crd['kind'] == 'CustomResourceDefinition'
    assert crd['metadata']['name'] == 'frappebenches.vyogo.tech'
    versions = crd['spec']['versions']
    assert [v['name'] for v in versions] == ['v1alpha1', 'v1']
    # v1 is served with the very same schema (one source in the file, a YAML alias).
    assert versions[0]['schema'] == versions[1]['schema']
    return versions[0]['schema']['openAPIV3Schema']['properties']['spec']


SECTIONS = ['workerAutoscalingConfig', 'workerAutoscaling']


@pytest.mark.parametrize('section', SECTIONS)
def test_crd_sections_list_the_three_worker_types(bench_spec_schema, section):
    schema = bench_spec_schema['properties'][section]
    assert schema['type'] == 'object'
    assert set(schema['properties']) == set(wa.WORKER_TYPES)
    # no default on the section or on a block: an absent block must stay absent,
    # otherwise spec.componentReplicas.worker<Type> could never apply
    assert 'default' not in schema
    for block in schema['properties'].values():
        assert 'default' not in block


@pytest.mark.parametrize('section', SECTIONS)
@pytest.mark.parametrize('worker_type', ['short', 'long', 'default'])
def test_crd_defaults_equal_filter_defaults(bench_spec_schema, section, worker_type):
    block = bench_spec_schema['properties'][section]['properties'][worker_type]
    schema_defaults = {
        field: prop['default']
        for field, prop in block['properties'].items()
        if 'default' in prop
    }
    assert schema_defaults == wa.DEFAULTS[worker_type]
    # same types, not just equal values (True == 1 in Python)
    for field, value in schema_defaults.items():
        assert type(value) is type(wa.DEFAULTS[worker_type][field]), field


@pytest.mark.parametrize('section', SECTIONS)
@pytest.mark.parametrize('worker_type', ['short', 'long', 'default'])
def test_crd_minimums_equal_filter_minimums(bench_spec_schema, section, worker_type):
    block = bench_spec_schema['properties'][section]['properties'][worker_type]
    props = block['properties']
    schema_minimums = {field: prop['minimum'] for field, prop in props.items() if 'minimum' in prop}
    assert schema_minimums == wa.MINIMUMS
    for field in wa.INT_FIELDS:
        assert props[field]['type'] == 'integer', field
    assert props['enabled']['type'] == 'boolean'


@pytest.mark.parametrize('section', SECTIONS)
@pytest.mark.parametrize('worker_type', ['short', 'long', 'default'])
def test_crd_block_fields_match_filter(bench_spec_schema, section, worker_type):
    block = bench_spec_schema['properties'][section]['properties'][worker_type]
    assert set(block['properties']) == set(wa.ALLOWED_BLOCK_KEYS)
    queues = block['properties']['queues']
    assert queues['type'] == 'array'
    assert queues['minItems'] == 1
    assert 'default' not in queues
    assert queues['items']['type'] == 'string'
    assert queues['items']['pattern'] == wa.NAME_PATTERN
    assert block['x-kubernetes-validations'][0]['rule'] == 'self.minReplicas <= self.maxReplicas'
    assert block['x-kubernetes-validations'][0]['message'] == (
        'minReplicas must be less than or equal to maxReplicas')
    for field, prop in block['properties'].items():
        assert prop.get('description'), '%s.%s.%s has no description' % (section, worker_type, field)


def test_crd_alias_has_the_same_worker_schema(bench_spec_schema):
    config = bench_spec_schema['properties']['workerAutoscalingConfig']['properties']
    alias = bench_spec_schema['properties']['workerAutoscaling']['properties']
    for worker_type in wa.WORKER_TYPES:
        assert config[worker_type]['properties'] == alias[worker_type]['properties']
        assert config[worker_type]['x-kubernetes-validations'] == alias[worker_type]['x-kubernetes-validations']


def test_crd_bench_id_pattern_matches_filter(bench_spec_schema):
    assert bench_spec_schema['properties']['benchId']['pattern'] == wa.NAME_PATTERN


def test_crd_legacy_component_replicas_have_no_default(bench_spec_schema):
    props = bench_spec_schema['properties']['componentReplicas']['properties']
    for field in wa.LEGACY_REPLICA_FIELDS.values():
        assert 'default' not in props[field], field
        assert props[field]['minimum'] == 0


def test_a_worker_whose_queue_keda_cannot_read_falls_back_to_static_replicas():
    spec = {'frappeVersion': 'version-15', 'workerAutoscalingConfig': {'short': {'staticReplicas': 2}}}
    plan = resolve(spec, scaler_errors={'short': 'TriggerError: Triggers defined in ScaledObject are not working'})
    short = plan['short']
    # The ScaledObject stays (KEDA takes the worker back when it reads the queue again).
    assert (short['kedaManaged'], short['mode'], short['replicas']) == (True, 'fallback', 2)
    assert short['scalerError'].startswith('TriggerError')
    assert any('KEDA cannot read the queue of worker short (TriggerError' in w and 'at least 2 static' in w
               for w in short['warnings']), short['warnings']
    assert (plan['long']['mode'], plan['long']['replicas'], plan['long']['scalerError']) == ('autoscaled', 0, '')


def test_a_scaler_error_means_nothing_for_a_worker_keda_does_not_manage():
    plan = resolve(keda=False, scaler_errors={'short': 'TriggerError', 'default': 'TriggerError'})
    assert [(plan[w]['mode'], plan[w]['scalerError']) for w in ('short', 'default')] == [('static', ''), ('static', '')]


@pytest.mark.parametrize('errors', [['short'], {'short': 1}, 'short'])
def test_scaler_errors_must_map_worker_types_to_messages(errors):
    raises(match='scaler_errors must map worker types', scaler_errors=errors)
