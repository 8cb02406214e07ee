"""Python classes for the server's data types, and the objects and listings they make.

* :mod:`.factory`: builds one class per schema type with ``type()`` (never source text);
* :mod:`.registry`: hand-written behaviour chosen by xsi type, and the one list of the
  modules that register it (``BEHAVIOUR_MODULES``); the mixins are in :mod:`.behaviour`;
* :mod:`.base`: the minimal base object (``XNATBaseObject``); :mod:`.properties`: typed
  field descriptors; :mod:`.creation`: creating an object on the server;
  :mod:`.sublisting`: lists inside one object's document;
* :mod:`.listing`: listings of the REST hierarchy; :mod:`.objects`: the object layer of a
  session (identity map, listings by kind); :mod:`.rest`: URI helpers and the weak
  identity map;
* :mod:`.session_objects`: what a session adds for objects and transfers
  (``session.projects``, ``create_object``, ``transferer()``, ``download``...);
* :mod:`.mount`: the archive mounted read-only (``XNAT_DATA``): where an object's folder
  and a file are on it (``data_dir``, ``data_path``).
"""
