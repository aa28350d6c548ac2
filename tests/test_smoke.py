def test_promote_and_verify_end_to_end(repo):
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "news-lead1", "--reason", "first")
    assert proc.returncode == 0, proc.stderr
    assert (repo.root / "data/eval/baselines/news-lead1/metrics.json").is_file()
    proc = repo.ledger("verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all OK" in proc.stdout
