// Numbers as people read them: sizes, speeds, durations, time left. Pure functions.

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export function formatBytes(bytes) {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  if (bytes >= KiB) return `${(bytes / KiB).toFixed(0)} KiB`;
  return `${bytes} B`;
}

export function formatRate(bytesPerSecond) {
  return `${(bytesPerSecond / MiB).toFixed(1)} MiB/s`;
}

/** A media duration in seconds: "2.0 s" under a minute, else "m:ss" or "h:mm:ss". */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function formatTimeLeft(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 1) return "under a second left";
  if (seconds < 60) return `${Math.ceil(seconds)} s left`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.ceil(seconds % 60)} s left`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min left`;
}

/** Speed over the last few seconds of progress reports (reset on pause so a pause is not averaged in). */
export class Meter {
  constructor(total, windowMs = 4000) {
    this.total = total;
    this.windowMs = windowMs;
    this.samples = [];
  }

  reset() {
    this.samples = [];
  }

  update(sent, now = performance.now()) {
    this.samples.push([now, sent]);
    while (this.samples.length > 2 && now - this.samples[0][0] > this.windowMs) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const elapsed = (now - t0) / 1000;
    const rate = elapsed >= 0.25 ? Math.max(0, sent - b0) / elapsed : NaN;
    const percent = this.total > 0 ? (100 * sent) / this.total : 100;
    const left = rate > 0 ? (this.total - sent) / rate : NaN;
    return { percent, rate, left };
  }
}
