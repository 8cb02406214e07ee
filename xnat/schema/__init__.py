"""Reading a server's data-type schemas: discovery and cache (:mod:`.loader`), the XSD
reader (:mod:`.xsd`), the inert model it produces (:mod:`.model`) and Python names
(:mod:`.names`). Classes are built from the model by :mod:`xnat.classes.factory`."""

from .model import SchemaModel, XNATSchemaWarning

__all__ = ["SchemaModel", "XNATSchemaWarning"]
