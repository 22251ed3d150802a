import type { ReactNode } from 'react';

export function Panel(props: { title: string; testId: string; children: ReactNode; wide?: boolean }) {
  return (
    <section className={props.wide ? 'panel wide' : 'panel'} data-testid={props.testId}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

export function ErrorText({ message }: { message: string | null }) {
  return message ? (
    <p className="error" role="alert">
      {message}
    </p>
  ) : null;
}
