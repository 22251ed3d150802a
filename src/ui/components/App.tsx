import { useEffect } from 'react';
import { useStudio } from '../store/store';
import { leavingLosesWork } from '../store/training-slice';
import { DatasetPanel } from './DatasetPanel';
import { ExportPanel } from './ExportPanel';
import { GeneratePanel } from './GeneratePanel';
import { GpuHeader } from './GpuHeader';
import { MethodPanel } from './MethodPanel';
import { ModelPanel } from './ModelPanel';
import { ProfilePanel } from './ProfilePanel';
import { ResumeBanner } from './ResumeBanner';
import { NoWebGpu } from './NoWebGpu';
import { TrainPanel } from './TrainPanel';
import { UpdatePanel } from './UpdatePanel';

/** While a run is on, or a trained result was never downloaded, leaving the page asks first (the browser's own dialog). */
function useLeaveWarning(): void {
  const warn = useStudio(leavingLosesWork);
  useEffect(() => {
    if (!warn) return;
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = ''; // older Chromium shows the dialog only with returnValue set
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [warn]);
}

export function App() {
  useLeaveWarning();
  const gpuKind = useStudio((s) => s.gpuStatus.kind);
  if (gpuKind === 'unavailable') return <NoWebGpu />;
  return (
    <div className="app">
      <GpuHeader />
      <ResumeBanner />
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
