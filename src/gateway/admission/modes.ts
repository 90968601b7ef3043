/** How hard the gateway is pressed: `degraded` sheds low-priority new calls, `shedding` normal ones too. */
export const DEGRADATION_MODES = ['normal', 'degraded', 'shedding'] as const;
export type DegradationMode = (typeof DEGRADATION_MODES)[number];

export const MODE_LEVEL: Readonly<Record<DegradationMode, number>> = { normal: 0, degraded: 1, shedding: 2 };

export interface ModeOptions {
  /** Pressure held this long in `degraded` escalates to `shedding`. Default 1 s. */
  escalateMs?: number;
  /** Calm held this long steps one mode down. Default 5 s. */
  calmMs?: number;
  /** Queue occupancy (0–1) that counts as pressure. Default 0.5. */
  highWater?: number;
  /** Queue occupancy at or below which it is calm (with no shed). Default 0.1. */
  lowWater?: number;
}

/** What the gateway saw since the last look. */
export interface Pressure {
  /** Waiting calls over the queue's length, now. */
  occupancy: number;
  /** Calls shed because the queue was full or they waited too long (not those shed for their priority). */
  overflowSheds: number;
}

/**
 * The degradation mode, with hysteresis: one look under pressure (a shed from
 * the queue, or the queue past its high-water mark) moves `normal` to
 * `degraded`; pressure that lasts `escalateMs` moves on to `shedding`; only
 * `calmMs` of calm (no shed, the queue nearly empty) steps one mode down.
 * Between the marks the mode holds. Sheds for priority are not pressure: in
 * `shedding`, normal calls no longer reach the queue, so the mode must be
 * able to step down and find out whether they can be served again.
 */
export class DegradationModes {
  private current: DegradationMode = 'normal';
  private pressedSince: number | undefined;
  private calmSince: number | undefined;
  private readonly escalateMs: number;
  private readonly calmMs: number;
  private readonly highWater: number;
  private readonly lowWater: number;

  constructor(options: ModeOptions = {}) {
    this.escalateMs = options.escalateMs ?? 1_000;
    this.calmMs = options.calmMs ?? 5_000;
    this.highWater = options.highWater ?? 0.5;
    this.lowWater = options.lowWater ?? 0.1;
  }

  get mode(): DegradationMode {
    return this.current;
  }

  /** Takes one look at the pressure; returns the mode after it. */
  observe(pressure: Pressure, now: number): DegradationMode {
    const pressed = pressure.overflowSheds > 0 || pressure.occupancy >= this.highWater;
    const calm = pressure.overflowSheds === 0 && pressure.occupancy <= this.lowWater;
    if (pressed) {
      this.calmSince = undefined;
      this.pressedSince ??= now;
      if (this.current === 'normal') {
        this.current = 'degraded';
        this.pressedSince = now;
      } else if (this.current === 'degraded' && now - this.pressedSince >= this.escalateMs) {
        this.current = 'shedding';
      }
      return this.current;
    }
    this.pressedSince = undefined;
    if (!calm) {
      this.calmSince = undefined;
      return this.current;
    }
    this.calmSince ??= now;
    if (this.current !== 'normal' && now - this.calmSince >= this.calmMs) {
      this.current = this.current === 'shedding' ? 'degraded' : 'normal';
      this.calmSince = now;
    }
    return this.current;
  }
}
