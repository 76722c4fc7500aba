"""SageMaker's ``aialgs.data.Record`` message classes, built from their descriptor at import.

The schema is the SageMaker Python SDK's ``src/sagemaker/amazon/record.proto`` (proto2,
package ``aialgs.data``), written out below field for field, so neither ``protoc`` nor the
SDK is needed at run time. ``tests/sdk`` checks it against the SDK's own descriptor.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "aialgs.data"


def _tensor(name: str, value_type: int) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    for number, (field, kind) in enumerate(
            (("values", value_type), ("keys", _F.TYPE_UINT64), ("shape", _F.TYPE_UINT64)), 1):
        entry = message.field.add(name=field, number=number, type=kind, label=_F.LABEL_REPEATED)
        entry.options.packed = True
    return message


def _message_field(message: descriptor_pb2.DescriptorProto, name: str, number: int,
                   type_name: str, label: int = _F.LABEL_OPTIONAL) -> Any:
    return message.field.add(name=name, number=number, label=label, type=_F.TYPE_MESSAGE,
                             type_name=f".{_PACKAGE}.{type_name}")


def _value() -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name="Value")
    message.oneof_decl.add(name="value")
    for name, number, kind in (("float32_tensor", 2, "Float32Tensor"),
                               ("float64_tensor", 3, "Float64Tensor"),
                               ("int32_tensor", 7, "Int32Tensor"), ("bytes", 9, "Bytes")):
        _message_field(message, name, number, kind).oneof_index = 0
    return message


def _record() -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name="Record")
    for name, number in (("features", 1), ("label", 2)):
        entry = message.nested_type.add(name=f"{name.title()}Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
        _message_field(entry, "value", 2, "Value")
        field = _message_field(message, name, number, "Value", _F.LABEL_REPEATED)
        field.type_name = f".{_PACKAGE}.Record.{entry.name}"
    for name, number in (("uid", 3), ("metadata", 4), ("configuration", 5)):
        message.field.add(name=name, number=number, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    return message


def _file() -> descriptor_pb2.FileDescriptorProto:
    # Our own file name: a process that also imports the SDK's record_pb2 (same package and
    # message names) would clash in the default pool, so ours lives in a private pool.
    proto = descriptor_pb2.FileDescriptorProto(name="arq_batch/record.proto", package=_PACKAGE,
                                               syntax="proto2")
    proto.message_type.extend([_tensor("Float32Tensor", _F.TYPE_FLOAT),
                               _tensor("Float64Tensor", _F.TYPE_DOUBLE),
                               _tensor("Int32Tensor", _F.TYPE_INT32)])
    data = proto.message_type.add(name="Bytes")
    data.field.add(name="value", number=1, type=_F.TYPE_BYTES, label=_F.LABEL_REPEATED)
    data.field.add(name="content_type", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    proto.message_type.extend([_value(), _record()])
    return proto


FILE = _file()
_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(FILE)
Record: Any = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.Record"))
