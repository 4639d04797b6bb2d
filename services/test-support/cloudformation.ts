/** Just enough of a CloudFormation template to assert on what `osls package` generated. */

/** A template property: a literal, a list, a map, or an intrinsic function (`{ Ref }`, `{ 'Fn::Sub' }`, ...). */
export type CfnValue = string | number | boolean | null | CfnValue[] | { [key: string]: CfnValue };

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, CfnValue>;
  readonly DependsOn?: string | string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: CfnValue; Export?: { Name: CfnValue } }>;
}

/** An IAM policy statement as written in a role's inline policy. */
export interface IamStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource: CfnValue;
  readonly Condition?: Record<string, CfnValue>;
}

export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const isMap = (value: CfnValue | undefined): value is { [key: string]: CfnValue } => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The resources of one type, as [logicalId, resource] pairs. */
export const resourcesOfType = (template: CfnTemplate, type: string): Array<[string, CfnResource]> =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

/** One property of a resource (throws when the resource or property is missing, naming both). */
export const prop = (resource: CfnResource | undefined, name: string): CfnValue => {
  if (!resource) throw new Error(`no such resource (looking for property ${name})`);
  const value = resource.Properties?.[name];
  if (value === undefined) throw new Error(`${resource.Type} has no property ${name}`);
  return value;
};

/** The logical id a `{ Ref: id }` or `{ 'Fn::GetAtt': [id, attr] }` points at, else undefined. */
export const referencedId = (value: CfnValue | undefined): string | undefined => {
  if (!isMap(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
};

/** The export name of a `{ 'Fn::ImportValue': name }`, else undefined. */
export const importedName = (value: CfnValue | undefined): string | undefined => {
  if (!isMap(value)) return undefined;
  const name = value['Fn::ImportValue'];
  return typeof name === 'string' ? name : undefined;
};

/** The template string of a `{ 'Fn::Sub': '...' }` (or a plain string), else undefined. */
export const subTemplate = (value: CfnValue | undefined): string | undefined => {
  if (typeof value === 'string') return value;
  if (!isMap(value)) return undefined;
  const sub = value['Fn::Sub'];
  if (typeof sub === 'string') return sub;
  if (Array.isArray(sub) && typeof sub[0] === 'string') return sub[0];
  return undefined;
};

/** Every export name a template imports, wherever the import sits. */
export const allImports = (value: CfnValue | CfnTemplate): string[] => {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === 'object' && node !== null) {
      const name = importedName(node as CfnValue);
      if (name !== undefined) found.push(name);
      else Object.values(node).forEach(walk);
    }
  };
  walk(value);
  return found;
};

/** The export names a template declares. */
export const exportNames = (template: CfnTemplate): string[] =>
  Object.values(template.Outputs ?? {}).flatMap((output) => (typeof output.Export?.Name === 'string' ? [output.Export.Name] : []));

/** Every statement of a role's inline policies. */
export const roleStatements = (role: CfnResource): IamStatement[] => {
  const policies = asArray(role.Properties?.Policies as CfnValue[] | undefined);
  return policies.flatMap((policy) => {
    const document = isMap(policy) ? policy.PolicyDocument : undefined;
    return isMap(document) ? (asArray(document.Statement as CfnValue[]) as unknown as IamStatement[]) : [];
  });
};

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::AccountId': '123456789012',
  'AWS::Region': 'us-east-1',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
};

/**
 * A plausible deploy-time value for an environment variable, to load a handler the way Lambda would: pseudo
 * parameters substituted, imports and references replaced by their names (config is checked for presence here).
 */
export const fakeDeployValue = (value: CfnValue): string => {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  const sub = subTemplate(value);
  if (sub !== undefined) return sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => PSEUDO_PARAMETERS[name] ?? `deployed-${name}`);
  const imported = importedName(value);
  if (imported !== undefined) return `https://sqs.us-east-1.amazonaws.com/123456789012/${imported}`;
  const id = referencedId(value);
  if (id !== undefined) return `deployed-${id}`;
  throw new Error(`cannot fake a deploy-time value for ${JSON.stringify(value)}`);
};
