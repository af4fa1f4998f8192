"""The SOAP API's envelopes and answers, as ``ExactTargetWSDL.xml`` describes them.

Requests are SOAP 1.1 documents (``soap:binding style="document"``, ``SOAPAction`` one of the
operation names) whose body element is the operation's message: ``RetrieveRequestMsg``,
``CreateRequest`` or ``DeleteRequest`` in the ``http://exacttarget.com/wsdl/partnerAPI``
namespace. The token goes in the header as ``<fueloauth xmlns="http://exacttarget.com">``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from .auth import TOKEN_MARK

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
API_NS = "http://exacttarget.com/wsdl/partnerAPI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_API = f"{{{API_NS}}}"
_XSI_TYPE = f"{{{XSI_NS}}}type"


def envelope(body: str) -> bytes:
    """A SOAP 1.1 envelope around ``body`` with the token's place marked."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_NS}" xmlns:xsi="{XSI_NS}">'
        f'<s:Header><fueloauth xmlns="http://exacttarget.com">{TOKEN_MARK}</fueloauth></s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def el(name: str, value: Any) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def utc(epoch: float) -> str:
    """A ``DateValue``: UTC with ``Z``, which the API normalizes to its server time (Incoming Date Normalization)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- filters (FilterPart, SimpleFilterPart, ComplexFilterPart) ----------------------------------


#: a filter part: its inner XML and its ``xsi:type``
Part = tuple[str, str]


def simple(prop: str, operator: str, *, values: Sequence[str] = (), dates: Sequence[float] = ()) -> Part:
    inner = el("Property", prop) + el("SimpleOperator", operator)
    inner += "".join(el("Value", v) for v in values) + "".join(el("DateValue", utc(d)) for d in dates)
    return inner, "SimpleFilterPart"


def _part(tag: str, part: Part) -> str:
    inner, kind = part
    return f'<{tag} xsi:type="{kind}">{inner}</{tag}>'


def complex_(left: Part, operator: str, right: Part) -> Part:
    inner = _part("LeftOperand", left) + el("LogicalOperator", operator) + _part("RightOperand", right)
    return inner, "ComplexFilterPart"


def retrieve(
    object_type: str,
    properties: Iterable[str],
    *,
    filter_: Part | None = None,
    batch_size: int | None = None,
    continue_id: str | None = None,
) -> bytes:
    """``RetrieveRequestMsg``: a first page, or with ``continue_id`` the next one (``ContinueRequest``)."""
    inner = el("ObjectType", object_type) + "".join(el("Properties", p) for p in properties)
    if filter_ is not None:
        inner += _part("Filter", filter_)
    if continue_id:
        inner += el("ContinueRequest", continue_id)
    if batch_size:
        inner += f"<Options>{el('BatchSize', batch_size)}</Options>"
    return envelope(
        f'<RetrieveRequestMsg xmlns="{API_NS}"><RetrieveRequest>{inner}</RetrieveRequest></RetrieveRequestMsg>'
    )


def create_data_extension(
    name: str,
    key: str,
    fields: Sequence[tuple[str, str, int | None, bool]],
    *,
    sendable_field: str,
    folder_id: int | None,
) -> bytes:
    """``CreateRequest`` of one sendable ``DataExtension`` (fields: name, FieldType, MaxLength, IsPrimaryKey)."""
    cols = ""
    for fname, ftype, length, pk in fields:
        # the schema's order: PropertyDefinition's Name … MaxLength … IsRequired, then IsPrimaryKey, FieldType
        col = el("Name", fname)
        if length:
            col += el("MaxLength", length)
        col += el("IsRequired", "true" if pk else "false") + el("IsPrimaryKey", "true" if pk else "false")
        col += el("FieldType", ftype)
        cols += f"<Field>{col}</Field>"
    obj = el("CustomerKey", key) + el("Name", name)
    obj += el("IsSendable", "true")
    # the column holding the subscriber key, related to the subscribers' "Subscriber Key" attribute
    obj += f"<SendableDataExtensionField>{el('Name', sendable_field)}</SendableDataExtensionField>"
    obj += f"<SendableSubscriberField>{el('Name', 'Subscriber Key')}</SendableSubscriberField>"
    obj += f"<Fields>{cols}</Fields>"
    if folder_id is not None:
        obj += el("CategoryID", folder_id)
    body = (
        f'<CreateRequest xmlns="{API_NS}"><Options/><Objects xsi:type="DataExtension">{obj}</Objects></CreateRequest>'
    )
    return envelope(body)


def delete_rows(key: str, column: str, values: Sequence[str]) -> bytes:
    """``DeleteRequest`` of ``DataExtensionObject`` rows of the data extension ``key``, by primary key."""
    objs = "".join(
        f'<Objects xsi:type="DataExtensionObject">{el("CustomerKey", key)}'
        f"<Keys><Key>{el('Name', column)}{el('Value', v)}</Key></Keys></Objects>"
        for v in values
    )
    return envelope(f'<DeleteRequest xmlns="{API_NS}"><Options/>{objs}</DeleteRequest>')


# -- answers ------------------------------------------------------------------------------------


@dataclass
class Answer:
    """The parts of a ``…Response`` every operation shares, and its results as flat dicts."""

    overall: str
    request_id: str | None
    results: list[dict[str, Any]] = field(default_factory=list)


def _flat(node: ET.Element) -> dict[str, Any]:
    """A result as ``{tag: text}``; nested objects become dicts, repeated ``Property`` pairs a dict too."""
    out: dict[str, Any] = {}
    kind = node.get(_XSI_TYPE)
    if kind:
        out["@type"] = kind.split(":")[-1]
    for child in node:
        tag = child.tag.replace(_API, "")
        if tag == "Properties":  # ObjectExtension: Property{Name, Value}
            props = {}
            for prop in child:
                name = prop.findtext(f"{_API}Name")
                if name is not None:
                    props[name] = prop.findtext(f"{_API}Value") or ""
            out[tag] = props
        elif len(child):
            out[tag] = _flat(child)
        else:
            out[tag] = child.text or ""
    return out


def parse(text: bytes | str, message: str) -> Answer:
    """The ``message`` element (``RetrieveResponseMsg``, ``CreateResponse``, …) of a SOAP answer."""
    root = ET.fromstring(text)
    found = root.find(f"{{{SOAP_NS}}}Body/{_API}{message}")
    if found is None:
        raise ValueError(f"no {message} in the SOAP answer")
    results = [_flat(r) for r in found.findall(f"{_API}Results")]
    return Answer(found.findtext(f"{_API}OverallStatus") or "", found.findtext(f"{_API}RequestID"), results)
