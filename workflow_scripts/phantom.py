"""Rule phantom: write the demo CT and/or MRI datasets in the TotalSegmentator layout."""

import logging

from sail_core.data.phantom import generate_phantom
from sail_core.logs import configure

smk = snakemake  # noqa: F821 (injected by Snakemake)
configure(smk.log[0])
try:
    generate_phantom(
        smk.params.roots.get("ct"),
        smk.params.roots.get("mri"),
        n_ct=smk.params.n_ct,
        n_mri=smk.params.n_mri,
        seed=smk.params.seed,
        ct_matrix=smk.params.ct_matrix,
        ct_max_slices=smk.params.ct_max_slices,
        mri_matrix=smk.params.mri_matrix,
        mri_slice_thickness_mm=smk.params.mri_slice_thickness_mm,
    )
except Exception:
    logging.getLogger("phantom").exception("phantom generation failed")
    raise
