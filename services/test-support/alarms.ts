/**
 * Readers for the CloudWatch alarms and the dashboard of a packaged template (services/packaging.test.ts), so the
 * assertions there compare plain values: which metric an alarm watches, with which dimensions and statistic.
 */
import { type CfnResource, type CfnTemplate, type CfnValue, resourcesOfType, subTemplate } from './cloudformation';

/** One metric as an alarm or a widget names it. */
export interface MetricRef {
  readonly namespace: string;
  readonly metric: string;
  /** Dimension name → value as written in the template (a literal, or a Ref / GetAtt). */
  readonly dimensions: Record<string, CfnValue>;
  readonly stat: string;
}

/** What an alarm evaluates: one metric, or a metric-math expression over named metrics. */
export type AlarmInput = ({ readonly kind: 'metric' } & MetricRef) | { readonly kind: 'math'; readonly expression: string; readonly inputs: Record<string, MetricRef> };

const dimensionsOf = (list: CfnValue | undefined): Record<string, CfnValue> =>
  Object.fromEntries(((list ?? []) as Array<{ Name: string; Value: CfnValue }>).map((d) => [d.Name, d.Value]));

/** The alarms of a template, by logical id. */
export const alarmsOf = (template: CfnTemplate): Record<string, CfnResource> => Object.fromEntries(resourcesOfType(template, 'AWS::CloudWatch::Alarm'));

/** What an alarm watches, read from either form CloudWatch accepts. */
export const alarmInput = (alarm: CfnResource): AlarmInput => {
  const p = alarm.Properties ?? {};
  if (p.Metrics === undefined) {
    return { kind: 'metric', namespace: p.Namespace as string, metric: p.MetricName as string, dimensions: dimensionsOf(p.Dimensions), stat: p.Statistic as string };
  }
  const queries = p.Metrics as Array<{ Id: string; Expression?: string; ReturnData?: boolean; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: CfnValue }; Stat: string } }>;
  const returned = queries.filter((q) => q.ReturnData !== false);
  if (returned.length !== 1 || returned[0]?.Expression === undefined) throw new Error('a metric-math alarm must return exactly one expression');
  const inputs: Record<string, MetricRef> = {};
  for (const q of queries) {
    if (!q.MetricStat) continue;
    inputs[q.Id] = { namespace: q.MetricStat.Metric.Namespace, metric: q.MetricStat.Metric.MetricName, dimensions: dimensionsOf(q.MetricStat.Metric.Dimensions), stat: q.MetricStat.Stat };
  }
  return { kind: 'math', expression: returned[0].Expression, inputs };
};

/** One widget of the dashboard, reduced to its title, metrics and alarm lines. */
export interface Widget {
  readonly title: string;
  readonly metrics: Array<{ namespace: string; metric: string; dimensions: Record<string, string> }>;
  readonly stat: string;
  readonly alarmLines: number[];
}

/**
 * The widgets of a dashboard resource: its body is an `Fn::Sub` over JSON, evaluated here with `region` (the only
 * variable it may use) and parsed. Throws when the body is not valid JSON, as CloudFormation would reject it.
 */
export const dashboardWidgets = (dashboard: CfnResource, region: string): Widget[] => {
  const text = subTemplate(dashboard.Properties?.DashboardBody);
  if (text === undefined) throw new Error('DashboardBody is neither a string nor an Fn::Sub');
  const left = text.replaceAll('${AWS::Region}', region);
  if (left.includes('${')) throw new Error(`DashboardBody holds an unresolved variable: ${/\$\{[^}]*\}/.exec(left)?.[0]}`);
  const body = JSON.parse(left) as { widgets: Array<{ type: string; properties: { title: string; region: string; stat: string; metrics: Array<Array<string | Record<string, unknown>>>; annotations?: { horizontal?: Array<{ value: number }> } } }> };
  return body.widgets.map((w) => {
    if (w.properties.region !== region) throw new Error(`widget ${w.properties.title} is not in the stack's region`);
    return {
      title: w.properties.title,
      stat: w.properties.stat,
      alarmLines: (w.properties.annotations?.horizontal ?? []).map((a) => a.value),
      metrics: w.properties.metrics.map((m) => {
        const parts = m.filter((x): x is string => typeof x === 'string');
        const [namespace, metric, ...dims] = parts as [string, string, ...string[]];
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < dims.length; i += 2) dimensions[dims[i] as string] = dims[i + 1] as string;
        return { namespace, metric, dimensions };
      }),
    };
  });
};
