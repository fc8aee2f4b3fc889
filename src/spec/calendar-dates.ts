import { MICROS_PER_SECOND } from './calendar';

/**
 * Civil dates of the proleptic Gregorian calendar, counted in days since 1970-01-01 as timegm
 * counts them, for the OnCalendar evaluation (calendar-elapse.ts and its neighbours).
 */

export const DAY_SECONDS = 86_400;
export const DAY_MICROS = DAY_SECONDS * MICROS_PER_SECOND;

/** Days since 1970-01-01 of a date; a day or month out of range carries over, as mktime does. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = year + Math.floor((month - 1) / 12);
  const m = (((month - 1) % 12) + 12) % 12; // 0 = January
  const shifted = m < 2 ? y - 1 : y;
  const era = Math.floor(shifted / 400);
  const yearOfEra = shifted - era * 400;
  const dayOfYear = Math.floor((153 * ((m + 10) % 12) + 2) / 5);
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468 + day - 1;
}

export interface CivilDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  readonly day: number;
  /** 0 = Monday .. 6 = Sunday, as systemd counts weekdays. */
  readonly weekday: number;
}

export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return {
    year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0),
    month,
    day: dayOfYear - Math.floor((153 * mp + 2) / 5) + 1,
    // 1970-01-01 was a Thursday.
    weekday: (((days + 3) % 7) + 7) % 7,
  };
}

export const daysInMonth = (year: number, month: number) => daysFromCivil(year, month + 1, 1) - daysFromCivil(year, month, 1);
