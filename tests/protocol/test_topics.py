"""MQTT topic layout of docs/mqtt.md, built in one place."""

from naila_protocol.topics import Topics, is_valid_device_id


def test_default_topics_match_the_contract() -> None:
    topics = Topics()
    assert topics.gateway_status == "naila/gateway/status"
    assert topics.signaling_offer("kitchen") == "naila/devices/kitchen/signaling/offer"
    assert topics.device_wildcard("status") == "naila/devices/+/status"
    assert (
        topics.alert("front_door", "person_detected") == "naila/alerts/front_door/person_detected"
    )
    assert topics.upload("web_1", "image") == "naila/uploads/web_1/image"
    assert topics.shared("naila", topics.uploads_wildcard) == "$share/naila/naila/uploads/+/+"


def test_custom_prefix_and_parsing() -> None:
    topics = Topics("home/naila")
    assert topics.parse_device_topic("home/naila/devices/cam1/media/snapshot") == (
        "cam1",
        "media/snapshot",
    )
    assert topics.parse_device_topic("home/naila/gateway/status") is None
    assert topics.parse_device_topic("home/naila/devices/cam1") is None
    assert topics.parse_upload_topic("home/naila/uploads/web_1/image") == ("web_1", "image")
    assert topics.parse_upload_topic("home/naila/uploads/web_1/reply") == ("web_1", "reply")
    assert topics.parse_upload_topic("home/naila/uploads/web_1") is None
    assert topics.parse_upload_topic("home/naila/devices/cam1/status") is None


def test_device_id_validation() -> None:
    assert is_valid_device_id("living_room-2.hub")
    for bad in ("", "a/b", "a+b", "a#", "a b", "x" * 65):
        assert not is_valid_device_id(bad)
