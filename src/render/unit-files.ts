import { jobServicePath, jobTimerPath, renderJobService, renderJobTimer, renderSystemdUnit, unitPath } from './systemd-unit';
import { NodeFile, NodeJob, NodeService } from '../model/node-plan';

/** A service's systemd unit as a node file. */
export function unitFile(service: NodeService): NodeFile {
  return { path: unitPath(service), mode: '0644', owner: 'root:root', content: renderSystemdUnit(service) };
}

/** A scheduled job's oneshot service and timer as node files. */
export function jobUnitFiles(job: NodeJob): NodeFile[] {
  return [
    { path: jobServicePath(job), content: renderJobService(job), mode: '0644', owner: 'root:root' },
    { path: jobTimerPath(job), content: renderJobTimer(job), mode: '0644', owner: 'root:root' },
  ];
}
