from sail_core.sae.config import parse_sae_name, seed_run_name, split_seed_run


def test_seed_run_names_round_trip_and_plain_names_have_no_seed():
    assert seed_run_name("D32-128_K4-8", 1) == "D32-128_K4-8_S1"
    assert split_seed_run("D32-128_K4-8_S1") == ("D32-128_K4-8", 1)
    assert split_seed_run("D32-128_K4-8_S0") == ("D32-128_K4-8", 0)
    assert split_seed_run("D32-128_K4-8") == ("D32-128_K4-8", None)
    base, _ = split_seed_run(seed_run_name("D8_K2", 12))
    assert parse_sae_name(base).widths == (8,)
