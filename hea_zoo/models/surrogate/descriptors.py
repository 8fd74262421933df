"""The surrogate's element-descriptor inputs: composition-weighted means and standard
deviations of tabulated element properties (`hea_zoo.data.elements`), computed inside the
model so that its inputs stay atomic fractions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from hea_zoo.errors import UsageError

__all__ = ["DEFAULT_DESCRIPTORS", "resolve_descriptors", "descriptor_table", "descriptor_features"]

#: Element properties whose composition-weighted mean and standard deviation the default
#: surrogate reads (docs/HYPERPARAMETERS.md: chosen by held-out error on the bundled data,
#: checked on the MPEA measurements).
DEFAULT_DESCRIPTORS: tuple[str, ...] = ("valence_electrons", "atomic_radius")


def resolve_descriptors(descriptors, elements: Sequence[str]) -> tuple[str, ...]:
    """The descriptor names a surrogate over `elements` reads.

    Args:
        descriptors: ``"auto"`` (`DEFAULT_DESCRIPTORS` when the element table,
            `hea_zoo.data.elements.KNOWN_ELEMENTS`, gives them for every element; none
            otherwise), or a sequence of `hea_zoo.data.elements.PROPERTY_COLUMNS` names
            (empty: fractions only).
        elements: the model's elements.

    Raises:
        ValueError: an unknown property, an element without tabulated data, or a property
            the table does not give for one of the elements (oxygen's moduli).
    """
    from hea_zoo.data.elements import KNOWN_ELEMENTS as TABLED, PROPERTY_COLUMNS, element_property

    if isinstance(descriptors, str):
        if descriptors != "auto":
            raise UsageError(
                f"must be 'auto' or a list of element properties ({', '.join(PROPERTY_COLUMNS)}). "
                f"Received: descriptors={descriptors!r}",
                field="descriptors",
            )
        if not all(e in TABLED for e in elements):
            return ()
        return DEFAULT_DESCRIPTORS if all(np.isfinite(element_property(n, elements)).all() for n in DEFAULT_DESCRIPTORS) else ()
    names = tuple(descriptors)
    if not all(isinstance(name, str) for name in names):
        raise UsageError(f"must be element property names. Received: descriptors={descriptors!r}", field="descriptors")
    unknown = [name for name in names if name not in PROPERTY_COLUMNS]
    if unknown:
        raise UsageError(f"Unknown element descriptor(s) {unknown}. Valid names: {', '.join(PROPERTY_COLUMNS)}.", field="descriptors")
    if len(set(names)) != len(names):
        raise UsageError(f"repeat a name: {list(names)}", field="descriptors")
    if names:
        untabled = [e for e in elements if e not in TABLED]
        if untabled:
            raise UsageError(
                f"Element descriptors need tabulated data for every element; {untabled} have none "
                f"(the table covers {', '.join(TABLED)}). Pass descriptors=() to read fractions only.",
                field="descriptors",
            )
        for name in names:
            values = element_property(name, elements)
            missing = [e for e, v in zip(elements, values) if not np.isfinite(v)]
            if missing:
                raise UsageError(
                    f"The element table has no {name} for {missing}: choose other descriptors, or descriptors=().",
                    field="descriptors",
                )
    return names


def descriptor_table(names: Sequence[str], elements: Sequence[str]) -> np.ndarray:
    """(E, D) element values, each column standardized over the elements (float32)."""
    from hea_zoo.data.elements import element_property

    table = np.stack([element_property(name, elements) for name in names], axis=1)
    return ((table - table.mean(axis=0)) / np.maximum(table.std(axis=0), 1e-12)).astype(np.float32)


def descriptor_features(compositions, table):
    """Composition-weighted mean and standard deviation of each descriptor column.

    Args:
        compositions: (batch, E) atomic fractions (rows summing to 1).
        table: (E, D) element values.

    Returns:
        (batch, 2 D): the means ``x @ v`` then the standard deviations
        ``sqrt(x @ v² − (x @ v)²)`` (clipped at 0 before the root; the atomic-size
        mismatch δ is the radius's standard deviation over its mean).
    """
    x = tf.cast(compositions, tf.float32)
    table = tf.cast(table, tf.float32)
    mean = tf.matmul(x, table)
    variance = tf.matmul(x, tf.square(table)) - tf.square(mean)
    return tf.concat([mean, tf.sqrt(tf.maximum(variance, 0.0) + 1e-12)], axis=-1)
