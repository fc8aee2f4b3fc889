import { renderSystemdUnit, unitPath } from '../render/systemd-unit';
import { NodeFile, NodeService } from './node-plan';

/** A service's systemd unit as a node file. */
export function unitFile(service: NodeService): NodeFile {
  return { path: unitPath(service), mode: '0644', owner: 'root:root', content: renderSystemdUnit(service) };
}
