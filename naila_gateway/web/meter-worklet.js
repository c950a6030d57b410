// Posts {rms, time} every two 128-sample blocks (≈ 5 ms): levels and first/last-sound timing.
class NailaMeter extends AudioWorkletProcessor {
  constructor() {
    super();
    this.sum = 0;
    this.count = 0;
    this.start = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      if (this.count === 0) this.start = currentTime;
      for (let i = 0; i < channel.length; i++) this.sum += channel[i] * channel[i];
      this.count += channel.length;
      if (this.count >= 256) {
        this.port.postMessage({ rms: Math.sqrt(this.sum / this.count), time: this.start });
        this.sum = 0;
        this.count = 0;
      }
    }
    return true;
  }
}
registerProcessor("naila-meter", NailaMeter);
