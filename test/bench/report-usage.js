// Preloaded (`node -r`) into a measured process: at exit, writes its peak RSS to the file named by
// PGHA_BENCH_REPORT. The parent times the whole process, start-up included.
process.on('exit', () => {
  require('node:fs').writeFileSync(process.env.PGHA_BENCH_REPORT, JSON.stringify({ peakMiB: process.resourceUsage().maxRSS / 1024 }));
});
