import { useStudio } from '../store/store';
import { DatasetPanel } from './DatasetPanel';
import { ExportPanel } from './ExportPanel';
import { GeneratePanel } from './GeneratePanel';
import { GpuHeader } from './GpuHeader';
import { MethodPanel } from './MethodPanel';
import { ModelPanel } from './ModelPanel';
import { ProfilePanel } from './ProfilePanel';
import { NoWebGpu } from './NoWebGpu';
import { TrainPanel } from './TrainPanel';
import { UpdatePanel } from './UpdatePanel';

export function App() {
  const gpuKind = useStudio((s) => s.gpuStatus.kind);
  if (gpuKind === 'unavailable') return <NoWebGpu />;
  return (
    <div className="app">
      <GpuHeader />
      <main className="panels">
        <ModelPanel />
        <DatasetPanel />
        <MethodPanel />
        <TrainPanel />
        <UpdatePanel />
        <ProfilePanel />
        <GeneratePanel />
        <ExportPanel />
      </main>
    </div>
  );
}
