from __future__ import annotations

from scripts.chaos.checker import Write, check_elasticsearch, check_stream, duplicate_episodes


def test_clean_stream_has_nothing_to_report() -> None:
    v = check_stream("file", [1, 2, 3], [1, 2, 3], window=500)
    assert (v.delivered, v.lost, v.duplicated, v.out_of_order, v.episodes) == (3, 0, 0, 0, 0)
    assert v.ok


def test_missing_id_is_lost() -> None:
    v = check_stream("file", [1, 2, 3, 4], [1, 2, 4], window=500)
    assert v.lost == 1
    assert v.samples["lost"] == [3]
    assert not v.ok


def test_resent_window_after_lost_connection_is_duplicates_not_disorder() -> None:
    v = check_stream("pulse", range(1, 8), [1, 2, 3, 4, 5, 3, 4, 5, 6, 7], window=1000)
    assert (v.duplicated, v.out_of_order, v.episodes, v.max_episode) == (3, 0, 1, 3)
    assert v.ok


def test_id_first_seen_after_a_higher_one_is_out_of_order() -> None:
    v = check_stream("pulse", [1, 2, 3, 4], [1, 3, 2, 4], window=1000)
    assert v.out_of_order == 1
    assert v.samples["out_of_order"] == [2]
    assert not v.ok


def test_redelivery_of_an_older_id_is_not_counted_as_disorder() -> None:
    v = check_stream("file", [1, 2, 3], [1, 2, 3, 1], window=500)
    assert (v.duplicated, v.out_of_order) == (1, 0)


def test_unexpected_ids_are_counted_but_do_not_fail() -> None:
    v = check_stream("pulse", [1, 3], [1, 2, 3], window=1000)
    assert (v.unexpected, v.lost, v.out_of_order) == (1, 0, 0)
    assert v.ok


def test_episode_longer_than_the_window_is_flagged() -> None:
    assert duplicate_episodes([1, 2, 3, 1, 2, 3, 4, 4]) == [3, 1]
    v = check_stream("file", [1, 2, 3, 4], [1, 2, 3, 1, 2, 3, 4], window=2)
    assert not v.episodes_within_window


def test_empty_streams() -> None:
    v = check_stream("file", [], [], window=1)
    assert v.ok
    assert v.max_episode == 0


def test_elasticsearch_retried_item_arriving_after_newer_ones_is_late_not_disorder() -> None:
    # A bulk of 1..3 where item 2 got a 429: 3 is applied first, then 2 is retried with 3 again (409).
    writes = [
        Write("bugs", "a", 1, 201),
        Write("bugs", "b", 3, 201),
        Write("bugs", "c", 2, 201),
        Write("bugs", "b", 3, 409),
    ]
    v = check_elasticsearch([1, 2, 3], writes, {("bugs", "a"): 1, ("bugs", "b"): 3, ("bugs", "c"): 2}, 1000)
    assert (v.lost, v.out_of_order, v.arrived_late, v.duplicated, v.stale_documents) == (0, 0, 1, 1, 0)
    assert v.ok


def test_elasticsearch_older_version_applied_over_newer_is_disorder() -> None:
    writes = [Write("bugs", "a", 5, 201), Write("bugs", "a", 4, 200)]
    v = check_elasticsearch([4, 5], writes, {("bugs", "a"): 4}, 1000)
    assert v.out_of_order == 1
    assert v.stale_documents == 1
    assert not v.ok


def test_elasticsearch_message_with_several_actions_counts_once() -> None:
    writes = [Write("bugs", "1", 7, 201), Write("comments", "9", 7, 404, "delete")]
    v = check_elasticsearch([7], writes, {("bugs", "1"): 7, ("comments", "9"): 7}, 1000)
    assert (v.delivered, v.duplicated, v.stale_documents) == (1, 0, 0)
