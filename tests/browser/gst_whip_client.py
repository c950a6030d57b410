"""A WHIP client on GStreamer's webrtcbin (a second, non-aiortc, non-Chromium WebRTC stack).

Run with the system Python that has PyGObject and GStreamer (python3-gst-1.0):
    python3 gst_whip_client.py URL SPEECH.wav [--seconds N]
It POSTs its offer (all candidates gathered), sends silence, the WAV, then silence, paced in
real time (clocksync), prints `LOCATION <url>` and `CONNECTED`, and DELETEs the session at
the end. Standard library only besides GStreamer, so the test venv needs no PyGObject.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
import urllib.request
import wave

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

CAPS = "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved"


def pipeline_text(wav: str, lead: float, tail: float) -> str:
    def silence(seconds: float) -> str:
        buffers = int(seconds * 50)
        return f"audiotestsrc wave=silence samplesperbuffer=960 num-buffers={buffers} ! {CAPS} ! c."

    return (
        "webrtcbin name=webrtc bundle-policy=max-bundle "
        f"concat name=c ! clocksync ! audioconvert ! audioresample ! {CAPS} ! "
        "opusenc ! rtpopuspay pt=111 ! "
        "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! "
        "webrtc.sink_0 "
        f"{silence(lead)} "
        f"filesrc location={wav} ! wavparse ! audioconvert ! audioresample ! {CAPS} ! c. "
        f"{silence(tail)}"
    )


class Client:
    def __init__(self, url: str, wav: str, lead: float, tail: float, token: str | None) -> None:
        self.url = url
        self.token = token
        self.location: str | None = None
        self.loop = GLib.MainLoop()
        self.pipe = Gst.parse_launch(pipeline_text(wav, lead, tail))
        self.webrtc = self.pipe.get_by_name("webrtc")
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        self.webrtc.connect("notify::connection-state", self.on_connection)
        self.webrtc.connect("pad-added", self.on_incoming)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_bus)
        self.offered = False
        self.failed = False
        self.connected = False

    def request(
        self, method: str, url: str, body: bytes | None, kind: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": kind} if kind else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()

    def on_negotiation_needed(self, element: Gst.Element) -> None:
        promise = Gst.Promise.new_with_change_func(self.on_offer, element, None)
        element.emit("create-offer", None, promise)

    def on_offer(self, promise: Gst.Promise, element: Gst.Element, _: object) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        element.emit("set-local-description", offer, Gst.Promise.new())

    def on_gathering(self, element: Gst.Element, _: object) -> None:
        state = element.get_property("ice-gathering-state")
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE and not self.offered:
            self.offered = True
            GLib.idle_add(self.post_offer)

    def post_offer(self) -> bool:
        sdp = self.webrtc.get_property("local-description").sdp.as_text()
        try:
            status, headers, body = self.request("POST", self.url, sdp.encode(), "application/sdp")
        except Exception as err:
            print(f"POST failed: {err}", flush=True)
            self.failed = True
            self.loop.quit()
            return False
        self.location = urllib.parse.urljoin(self.url, headers["Location"])
        print(f"LOCATION {self.location} {status}", flush=True)
        _, message = GstSdp.SDPMessage.new_from_text(body.decode())
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        self.webrtc.emit("set-remote-description", answer, Gst.Promise.new())
        return False

    def on_incoming(self, element: Gst.Element, pad: Gst.Pad) -> None:
        """The gateway's replies (sendrecv): decoded and dropped, counting the RTP buffers."""
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        print("RECEIVING", flush=True)

    def on_connection(self, element: Gst.Element, _: object) -> None:
        state = element.get_property("connection-state")
        print(f"STATE {state.value_nick}", flush=True)
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            self.connected = True
            print("CONNECTED", flush=True)
        elif state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.failed = True
            self.loop.quit()

    def on_bus(self, bus: Gst.Bus, message: Gst.Message) -> None:
        if message.type == Gst.MessageType.EOS:
            print("EOS", flush=True)
            self.loop.quit()
        elif message.type == Gst.MessageType.ERROR:
            err, debug = message.parse_error()
            print(f"ERROR {err.message} {debug}", flush=True)
            self.failed = True
            self.loop.quit()

    def run(self, limit: float) -> int:
        self.pipe.set_state(Gst.State.PLAYING)
        GLib.timeout_add(int(limit * 1000), self.loop.quit)
        self.loop.run()
        if self.location:
            try:
                status, _, _ = self.request("DELETE", self.location, None, None)
                print(f"DELETED {status}", flush=True)
            except Exception as err:
                print(f"DELETE failed: {err}", flush=True)
        self.pipe.set_state(Gst.State.NULL)
        return 1 if self.failed or not self.connected else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("wav")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds of silence first")
    parser.add_argument("--tail", type=float, default=12.0, help="seconds of silence after")
    parser.add_argument("--token")
    args = parser.parse_args()
    Gst.init(None)
    missing = [
        e
        for e in ("webrtcbin", "opusenc", "clocksync", "wavparse")
        if not Gst.ElementFactory.find(e)
    ]
    if missing:
        print(f"missing GStreamer elements: {missing}", flush=True)
        return 2
    with wave.open(args.wav) as speech:
        seconds = speech.getnframes() / speech.getframerate()
    client = Client(args.url, args.wav, args.lead, args.tail, args.token)
    return client.run(args.lead + seconds + args.tail + 2)


if __name__ == "__main__":
    sys.exit(main())
