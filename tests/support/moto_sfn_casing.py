"""Starts moto_server with its Step Functions interpreter's service-integration casing restored.

Step Functions takes a service integration's parameters in PascalCase (`Cluster`,
`TaskDefinition`, `JobQueue`) and answers in PascalCase (`Tasks`, `JobId`), whatever the casing of
the service's own API (ECS and Batch are camelCase). Moto's interpreter was ported from
LocalStack with the two methods that convert between the casings -- `_normalise_parameters` and
`_normalise_response` of `StateTaskService` -- reduced to `pass`, while the helpers they call
(`_to_boto_request`, `_from_boto_response`) were kept. So in moto 5.2.6 (the newest release at
the time of writing) every `ecs:runTask(.sync)` and `batch:submitJob(.sync)` state fails with
`States.Runtime` / `KeyError: 'Cluster'` before any request is sent, and an `aws-sdk:s3:getObject`
answers with an unread stream instead of the object's text. Upstream: getmoto/moto issue #10076,
pull request #10094 ("SFN parser: convert PascalCase task parameters to boto casing"), which
restores exactly these two methods.

This launcher restores them the same way (the operation's input and output shapes from
botocore's service model, converted by moto's own helpers), then runs `moto_server` with the
arguments given. Nothing else in moto changes. When the installed moto already converts (the
fix released), it changes nothing.

Usage: python moto_sfn_casing.py -H 127.0.0.1 -p PORT
"""

import inspect
import sys

import botocore.session
from botocore import xform_name
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service as _service,
)

_SESSION = botocore.session.get_session()
_MODELS = {}


def _operation_model(task, boto_service_name, service_action_name):
    service = task._get_boto_service_name(boto_service_name=boto_service_name)
    action = task._get_boto_service_action(service_action_name=service_action_name)
    model = _MODELS.get(service)
    if model is None:
        model = _MODELS[service] = _SESSION.get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == action:
            return model.operation_model(name)
    return None


def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):
    operation = _operation_model(self, boto_service_name, service_action_name)
    if operation is not None and operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(self, response, boto_service_name=None, service_action_name=None):
    operation = _operation_model(self, boto_service_name, service_action_name)
    if operation is not None and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def restore():
    """Restores the conversion unless the installed moto already does it."""
    base = _service.StateTaskService
    if "_to_boto_request(" in inspect.getsource(base._normalise_parameters):
        return False
    base._normalise_parameters = _normalise_parameters
    base._normalise_response = _normalise_response
    return True


if __name__ == "__main__":
    restored = restore()
    print(
        "moto_sfn_casing: "
        + ("restored the integration casing" if restored else "moto already converts; unchanged"),
        file=sys.stderr,
        flush=True,
    )
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
