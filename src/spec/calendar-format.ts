import { CalendarSpec, MICROS_PER_SECOND, asCalendarSpec } from './calendar';
import { UTC_CLOCK, effectiveTimeZone, zoneOffset } from './calendar-zone';

/** An elapse as systemd-analyze prints it, in the expression's zone: "2026-12-13 01:00:00 UTC". */
export function formatElapse(micros: number, calendar: CalendarSpec | string): string {
  const zone = effectiveTimeZone(asCalendarSpec(calendar));
  const seconds = Math.floor(micros / MICROS_PER_SECOND);
  const fraction = micros - seconds * MICROS_PER_SECOND;
  const tm = UTC_CLOCK.localtime(seconds + (zone === 'UTC' ? 0 : zoneOffset(zone, seconds)));
  const two = (n: number) => String(n).padStart(2, '0');
  const decimals = fraction > 0 ? `.${String(fraction).padStart(6, '0').replace(/0+$/, '')}` : '';
  return `${tm.year}-${two(tm.mon + 1)}-${two(tm.mday)} ${two(tm.hour)}:${two(tm.min)}:${two(tm.sec)}${decimals} ${zone}`;
}
